"""Operator commands shared by the embedded stack and compose: create topics, seed the demo
account directory. `python -m shared.admin --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pymongo import AsyncMongoClient, ReplaceOne

from shared.catalog import load_catalog
from shared.directory import ACCOUNTS_COLLECTION, DEMO_ACCOUNTS, DIRECTORY_DATABASE, AccountRecord
from shared.topics import DLQ_SUFFIX, Topics

# Events are keyed by ticket id: partitions bound how many replicas of a consumer can share work.
EVENT_TOPIC_PARTITIONS = 6
TEAM_TOPIC_PARTITIONS = 3
DLQ_PARTITIONS = 1


def topic_plan(topics: Topics, teams: Iterable[str]) -> dict[str, int]:
    plan = dict.fromkeys(topics.event_topics(), EVENT_TOPIC_PARTITIONS)
    plan.update({topics.team(team): TEAM_TOPIC_PARTITIONS for team in teams})
    plan.update({name + DLQ_SUFFIX: DLQ_PARTITIONS for name in topics.event_topics()})
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


async def seed_directory(mongo_url: str, accounts: Iterable[AccountRecord] = DEMO_ACCOUNTS) -> int:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    try:
        collection = client[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION]
        ops = [
            ReplaceOne({"_id": a.account_id}, a.model_dump(by_alias=True), upsert=True)
            for a in accounts
        ]
        result = await collection.bulk_write(ops)
        return result.upserted_count + result.modified_count
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    topics_cmd = sub.add_parser("create-topics", help="create the topics the services use")
    topics_cmd.add_argument("--bootstrap-servers", required=True)
    topics_cmd.add_argument("--prefix", default="")
    topics_cmd.add_argument("--replication", type=int, default=1)
    seed_cmd = sub.add_parser("seed-directory", help="load the demo accounts")
    seed_cmd.add_argument("--mongo-url", required=True)
    args = parser.parse_args(argv)
    if args.command == "create-topics":
        plan = topic_plan(Topics(args.prefix), load_catalog().teams)
        created = asyncio.run(create_topics(args.bootstrap_servers, plan, args.replication))
        print(f"created {len(created)} topics, {len(plan) - len(created)} existed")
    else:
        print(f"seeded {asyncio.run(seed_directory(args.mongo_url))} accounts")


if __name__ == "__main__":
    main()
