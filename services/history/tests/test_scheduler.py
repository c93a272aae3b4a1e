"""The scheduler on the real store (MongoDB wire protocol), with a fake clock and a recording
publisher: timers written with the projection, fired once when due — also by two replicas
at once and after a replica died mid-round — and dropped when the request moved past them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from devstack.stack import EmbeddedStack
from history.adapters.mongo import MongoRequestRepository
from history.adapters.timers import MongoTimerStore
from history.ports import ClaimedTimer
from history.scheduler import Scheduler
from history.scheduler_app import SchedulerMetrics
from history.service import HistoryService
from history.settings import HistorySettings
from shared.contracts.events import (
    AgentReplied,
    Envelope,
    Priority,
    SlaBreached,
    SlaWarning,
    TicketRouted,
    TicketSubmitted,
    new_ticket_id,
)
from shared.contracts.topics import Topics
from shared.metrics import ServiceMetrics
from shared.mongo import Document

from .test_history_projection import T0

pytestmark = pytest.mark.integration

RULES = HistorySettings().time_rules()
TOPICS = Topics()


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RecordingPublisher:
    published: list[tuple[str, Envelope]] = field(default_factory=list)

    async def publish_many(self, items: Iterable[tuple[str, Any]]) -> None:
        self.published += list(items)


@dataclass
class Desk:
    """The projection and a scheduler on one store, as the two processes are."""

    history: HistoryService
    timers: MongoTimerStore
    requests: MongoRequestRepository
    clock: Clock
    publisher: RecordingPublisher
    timer_documents: AsyncCollection[Document]

    def scheduler(self, **overrides: Any) -> Scheduler:
        options: dict[str, Any] = {
            "timers": self.timers,
            "requests": self.requests,
            "rules": RULES,
            "publisher": self.publisher,
            "topics": TOPICS,
            "clock": self.clock,
        }
        return Scheduler(**(options | overrides))

    async def deliver(self) -> None:
        """History consumes what the scheduler published on tickets.sla."""
        events = [e for topic, e in self.publisher.published if topic == TOPICS.sla]
        await self.history.apply_events(events)

    def on(self, topic: str) -> list[Envelope]:
        return [e for t, e in self.publisher.published if t == topic]


@pytest.fixture
async def desk(infra: EmbeddedStack) -> AsyncIterator[Desk]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.config.mongo_url, tz_aware=True)
    database = client["history_test"]
    suffix = uuid4().hex[:8]
    requests = MongoRequestRepository(database[f"requests_{suffix}"])
    timers = MongoTimerStore(database[f"timers_{suffix}"])
    await requests.ensure_indexes()
    await timers.ensure_indexes()
    history = HistoryService(requests, rules=RULES, timers=timers)
    yield Desk(
        history, timers, requests, Clock(), RecordingPublisher(), database[f"timers_{suffix}"]
    )
    await requests.collection.drop()
    await database[f"timers_{suffix}"].drop()
    await client.close()


def urgent(team: str = "cards") -> tuple[dict[str, str], list[Envelope]]:
    ids = {"ticket_id": new_ticket_id(), "account_id": "acc-1001", "correlation_id": "c"}
    return ids, [
        TicketSubmitted(**ids, occurred_at=T0, category="cards", subject="s", description="d"),
        TicketRouted(
            **ids,
            occurred_at=T0,
            team=team,
            priority=Priority.URGENT,
            confidence=0.9,
            customer_category="cards",
            reason="model",
            model_version="m",
        ),
    ]


async def test_an_unanswered_urgent_request_breaches_once_on_its_team_topic(desk: Desk) -> None:
    _, events = urgent()
    await desk.history.apply_events(events)
    assert await desk.timers.count(fired=False) == 4  # first reply and resolution: warn, breach
    scheduler = desk.scheduler()
    desk.clock.now = T0 + timedelta(minutes=10)
    assert (await scheduler.fire_due()).claimed == 0  # nothing due yet
    desk.clock.now = T0 + timedelta(minutes=61)
    done = await scheduler.fire_due()
    assert (done.fired, done.dropped) == (1, 1)  # the breach; the warning it overtook dropped
    breaches = desk.on(TOPICS.team("cards"))
    assert [type(e) for e in breaches] == [SlaBreached]
    assert breaches[0].occurred_at == desk.clock.now
    await desk.deliver()
    view = await desk.requests.get(events[0].ticket_id)
    assert view is not None
    first = next(c for c in view.sla if c.metric.value == "first_reply")
    assert (first.status, first.breached) == ("breached", 1)
    desk.clock.now += timedelta(minutes=5)
    assert (await scheduler.fire_due()).claimed == 0
    assert len(desk.on(TOPICS.team("cards"))) == 1


async def test_a_reply_stops_the_clock_and_its_timers(desk: Desk) -> None:
    ids, events = urgent()
    await desk.history.apply_events(events)
    reply = AgentReplied(**ids, occurred_at=T0 + timedelta(minutes=20), agent_id="a", body="b")
    await desk.history.apply_events([reply])
    assert await desk.timers.count(fired=False) == 2  # resolution only
    desk.clock.now = T0 + timedelta(hours=2)
    await desk.scheduler().fire_due()
    assert desk.publisher.published == []  # the resolution clock runs 8 hours (6 to warn)


async def test_two_replicas_fire_each_timer_once(desk: Desk) -> None:
    tickets = [urgent() for _ in range(30)]
    await desk.history.apply_events([e for _, events in tickets for e in events])
    desk.clock.now = T0 + timedelta(minutes=50)  # every warning due, no breach yet
    one, two = desk.scheduler(batch=7), desk.scheduler(batch=7)
    while True:
        rounds = await asyncio.gather(one.fire_due(), two.fire_due())
        if not any(r.claimed for r in rounds):
            break
    warnings = desk.on(TOPICS.sla)
    assert len(warnings) == 30
    assert all(isinstance(e, SlaWarning) for e in warnings)
    assert len({e.event_id for e in warnings}) == 30


async def test_a_replica_that_dies_mid_round_lets_another_fire_its_timers_once(
    desk: Desk,
) -> None:
    ids, events = urgent()
    await desk.history.apply_events(events)
    desk.clock.now = T0 + timedelta(minutes=61)
    # The first replica claims and publishes, then dies before marking the timers fired.
    dying = desk.scheduler(lease=timedelta(seconds=30))
    claimed = await desk.timers.claim(desk.clock.now, 10, dying.lease, "dead-replica")
    assert len(claimed) == 2
    survivor = desk.scheduler()
    assert (await survivor.fire_due()).claimed == 0  # leased: not the survivor's yet
    desk.clock.now += timedelta(seconds=31)
    assert (await survivor.fire_due()).fired == 1
    assert len(desk.on(TOPICS.team("cards"))) == 1
    # Had the dead replica published it already, and history read it, nothing goes out again.
    await desk.deliver()
    await desk.history.apply_events(
        [AgentReplied(**ids, occurred_at=T0 + timedelta(hours=9), agent_id="a", body="late")]
    )
    assert len(desk.on(TOPICS.team("cards"))) == 1


async def test_a_timer_the_store_has_too_early_is_put_back_not_fired(desk: Desk) -> None:
    _, events = urgent()
    await desk.history.apply_events(events)
    await desk.timer_documents.update_many({}, {"$set": {"due_at": T0}})
    desk.clock.now = T0 + timedelta(minutes=1)
    done = await desk.scheduler().fire_due()
    assert (done.fired, done.rescheduled) == (0, 4)
    assert desk.publisher.published == []
    assert await desk.timers.next_due() == T0 + timedelta(minutes=45)


async def test_stats_count_attainment_by_team_and_priority_and_the_backlog_by_age(
    desk: Desk,
) -> None:
    late_ids, late = urgent()
    kept_ids, kept = urgent()
    await desk.history.apply_events([*late, *kept])
    await desk.history.apply_events(
        [AgentReplied(**kept_ids, occurred_at=T0 + timedelta(minutes=15), agent_id="a", body="b")]
    )
    desk.clock.now = T0 + timedelta(minutes=61)
    await desk.scheduler().fire_due()
    await desk.deliver()
    stats = await desk.history.stats(
        T0 - timedelta(hours=1), T0 + timedelta(hours=1), now=T0 + timedelta(hours=2)
    )
    first = next(r for r in stats.sla if r.metric.value == "first_reply")
    assert (first.team, first.priority, first.target_seconds) == ("cards", Priority.URGENT, 3600)
    assert (first.met, first.breached, first.attainment) == (1, 1, 0.5)
    assert first.median_seconds == 900.0  # the one settled run: the reply after 15 minutes
    ages = {(b.team, b.age): b.count for b in stats.backlog_by_age}
    assert ages == {("cards", "1-4 h"): 2}  # this test's store: its two requests, 2 h old
    late_view = await desk.requests.get(late_ids["ticket_id"])
    assert late_view is not None
    assert [c.status for c in late_view.sla] == ["breached", "running"]


def test_the_scheduler_metrics_count_fired_alerts_and_their_lag() -> None:

    metrics = ServiceMetrics("scheduler-test")
    observe = SchedulerMetrics(metrics).observe
    ids, _ = urgent()
    timer = ClaimedTimer("t|e", ids["ticket_id"], "first_reply:breach", "e", T0)
    alert = SlaBreached(
        **ids,
        metric="first_reply",
        cycle="first_reply",
        team="cards",
        priority=Priority.URGENT,
        target_seconds=3600,
        due_at=T0,
        business_hours=False,
    )
    observe(timer, "fired", alert, T0 + timedelta(seconds=2))
    observe(timer, "dropped", None, T0 + timedelta(seconds=2))
    registry = metrics.registry
    labels = {"team": "cards", "priority": "urgent", "metric": "first_reply", "phase": "breach"}
    assert registry.get_sample_value("helpdesk_sla_alerts_total", labels) == 1.0
    assert registry.get_sample_value("helpdesk_timer_lag_seconds_sum") == 2.0
    assert (
        registry.get_sample_value("helpdesk_timers_total", {"kind": "sla", "outcome": "dropped"})
        == 1.0
    )
