"""The scheduler: fires the timers the time rules planned, when they are due.

A round claims a batch of due timers (a lease, so replicas share the work and a dead one's
timers come back), re-plans each request from its current view, and publishes only what is
still due: a timer the request has moved past (answered, re-opened, solved) is dropped, one
moved later is put back. Then it marks the batch fired.

Exactly once: the published event's id follows from the timer, so a timer fired again after a
crash (published, then killed before marking) is the same event, which every consumer
applies once; and before publishing, a timer whose event the projection already holds is
only marked (that crash window closes as soon as history has read the first copy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import structlog

from history.domain.clocks import BREACH, WARNING, Timer, plan
from history.domain.projection import RequestView
from history.domain.time_rules import TimeRules
from history.ports import ClaimedTimer, EventPublisher, RequestRepository, TimerStore
from shared.contracts.events import Envelope, SlaAlert, utcnow
from shared.contracts.topics import Topics

log = structlog.get_logger(__name__)

Outcome = str  # fired | dropped | rescheduled


@dataclass(frozen=True, slots=True)
class Round:
    fired: int = 0
    dropped: int = 0
    rescheduled: int = 0

    @property
    def claimed(self) -> int:
        return self.fired + self.dropped + self.rescheduled


def _noop(timer: ClaimedTimer, outcome: Outcome, event: Envelope | None, now: datetime) -> None:
    pass


@dataclass
class Scheduler:
    timers: TimerStore
    requests: RequestRepository
    rules: TimeRules
    publisher: EventPublisher
    topics: Topics
    clock: Callable[[], datetime] = utcnow
    batch: int = 200
    lease: timedelta = timedelta(seconds=30)
    instance: str = field(default_factory=lambda: uuid4().hex[:12])
    observe: Callable[[ClaimedTimer, Outcome, Envelope | None, datetime], None] = _noop

    async def fire_due(self) -> Round:
        """One round: claim, check against the current views, publish, mark."""
        now = self.clock()
        owner = f"{self.instance}:{uuid4().hex}"
        claimed = await self.timers.claim(now, self.batch, self.lease, owner)
        if not claimed:
            return Round()
        views = await self.requests.load(sorted({c.ticket_id for c in claimed}))
        publish: list[tuple[str, Any]] = []
        done: list[str] = []
        later: dict[str, datetime] = {}
        outcomes: list[tuple[ClaimedTimer, Outcome, Envelope | None]] = []
        for claim in claimed:
            outcome, planned = self._decide(views.get(claim.ticket_id), claim, now)
            event = None
            if outcome == "rescheduled" and planned is not None:
                later[claim.timer_id] = planned.due_at
            else:
                done.append(claim.timer_id)
            if outcome == "fired" and planned is not None:
                event = planned.event.model_copy(update={"occurred_at": now})
                publish += [(topic, event) for topic in self._topics_of(event)]
            outcomes.append((claim, outcome, event))
        await self.publisher.publish_many(publish)
        await self.timers.finish(done, owner, now)
        await self.timers.reschedule(later, owner)
        for claim, outcome, event in outcomes:
            self.observe(claim, outcome, event, now)
        fired = sum(1 for _, outcome, _ in outcomes if outcome == "fired")
        return Round(fired=fired, dropped=len(done) - fired, rescheduled=len(later))

    def _decide(
        self, view: RequestView | None, claim: ClaimedTimer, now: datetime
    ) -> tuple[Outcome, Timer | None]:
        """What to do with a claimed timer, by the request's plan now."""
        if view is None or claim.event_id in view.applied_event_ids:
            return "dropped", None
        timers = plan(view, self.rules).timers
        planned = next((t for t in timers if str(t.event_id) == claim.event_id), None)
        if planned is None or _overtaken(planned, timers, now):
            return "dropped", None
        if planned.due_at > now:  # the view knows of a later due time (a pause, a new target)
            return "rescheduled", planned
        return "fired", planned

    def _topics_of(self, event: Envelope) -> list[str]:
        if isinstance(event, SlaAlert):
            return [self.topics.sla, self.topics.team(event.team)]
        return [self.topics.sla]

    async def run(self, poll_seconds: float) -> None:
        """Rounds until cancelled: at once while there is more due, else every `poll_seconds`."""
        while True:
            try:
                done = await self.fire_due()
            except Exception:  # the store or broker failed: the leases bring the timers back
                log.exception("scheduler_round_failed")
                done = Round()
            if done.claimed < self.batch:
                await asyncio.sleep(poll_seconds)


def _overtaken(timer: Timer, timers: tuple[Timer, ...], now: datetime) -> bool:
    """A warning whose breach is due too (the scheduler was late): the breach says it all."""
    metric, _, phase = timer.key.partition(":")
    if phase != WARNING:
        return False
    return any(t.key == f"{metric}:{BREACH}" and t.due_at <= now for t in timers)
