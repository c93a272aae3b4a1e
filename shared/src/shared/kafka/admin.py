"""The topics the services use and their partitions: partitions bound how many replicas of
a consumer share the work (events are keyed by ticket id)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import DLQ_SUFFIX, Topics

EVENT_TOPIC_PARTITIONS = 6
TEAM_TOPIC_PARTITIONS = 3
DLQ_PARTITIONS = 1


def topic_plan(topics: Topics, teams: Iterable[str]) -> dict[str, int]:
    consumed = (*topics.event_topics(), topics.recovery)
    plan = dict.fromkeys(consumed, EVENT_TOPIC_PARTITIONS)
    plan.update({topics.team(team): TEAM_TOPIC_PARTITIONS for team in teams})
    plan.update({name + DLQ_SUFFIX: DLQ_PARTITIONS for name in consumed})
    return plan


async def create_topics(
    bootstrap_servers: str, plan: dict[str, int], replication: int = 1
) -> list[str]:
    """Create missing topics; returns the names created. Existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, p, replication) for n, p in plan.items() if n not in existing]
        if missing:
            # A concurrent creator may win the race; the topic is there, which is the point.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()
