"""The time rules applied to a request: its clocks and the timers due, from its events alone."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from history.domain.clocks import Plan, plan
from history.domain.projection import RequestView, fold
from history.domain.time_rules import TimeRules
from shared.contracts.events import (
    AgentReplied,
    AutomationDue,
    CommentAdded,
    CustomerReminded,
    Envelope,
    Priority,
    RequestContent,
    RoutingDecision,
    SlaBreached,
    SlaMetric,
    SlaWarning,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    TicketTransferred,
    Transfer,
    new_ticket_id,
)
from shared.contracts.statuses import Status

pytestmark = pytest.mark.unit

RULES = TimeRules.model_validate(
    tomllib.loads(resources.files("history").joinpath("time_rules.toml").read_text())
)
# A Monday, 10:00 in Malta (UTC+1): inside the shipped calendar's working hours.
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


class Story:
    def __init__(self, priority: Priority = Priority.URGENT, team: str = "cards") -> None:
        self.ids: dict[str, Any] = {
            "ticket_id": new_ticket_id(),
            "account_id": "acc-1001",
            "correlation_id": "c",
        }
        self.events: list[Envelope] = [
            TicketSubmitted(
                **self.ids, occurred_at=T0, category="cards", subject="s", description="d"
            ),
            TicketRouted(
                **self.ids,
                occurred_at=T0,
                team=team,
                priority=priority,
                confidence=0.9,
                customer_category="cards",
                reason="model",
                model_version="m",
            ),
        ]

    def add(self, event: Envelope) -> Envelope:
        self.events.append(event)
        return event

    def reply(self, at: timedelta, to: Status | None = None, frm: Status = Status.OPEN) -> None:
        change = StatusTransition(from_status=frm, to_status=to) if to else None
        self.add(
            AgentReplied(
                **self.ids, occurred_at=T0 + at, agent_id="a", body="b", status_change=change
            )
        )

    def comment(self, at: timedelta, frm: Status | None = None) -> None:
        change = StatusTransition(from_status=frm, to_status=Status.OPEN) if frm else None
        self.add(CommentAdded(**self.ids, occurred_at=T0 + at, body="b", status_change=change))

    def status(self, at: timedelta, frm: Status, to: Status, rule: str | None = None) -> None:
        self.add(
            StatusChanged(
                **self.ids,
                occurred_at=T0 + at,
                actor_id="a",
                actor_role="system" if rule else "agent",
                rule_id=rule,
                status_change=StatusTransition(from_status=frm, to_status=to),
            )
        )

    def transfer(self, at: timedelta, to_team: str) -> None:
        self.add(
            TicketTransferred(
                **self.ids,
                occurred_at=T0 + at,
                transfer=Transfer(from_team="cards", to_team=to_team, reason="r", agent_id="a"),
                request=RequestContent(
                    category="cards", subject="s", description="d", submitted_at=T0
                ),
                decision=RoutingDecision(
                    team="cards",
                    confidence=0.9,
                    customer_category="cards",
                    reason="model",
                    model_version="m",
                ),
                status=Status.OPEN,
            )
        )

    @property
    def view(self) -> RequestView:
        view, _ = fold(None, self.events)
        assert view is not None
        return view

    def plan(self) -> Plan:
        return plan(self.view, RULES)


def due(p: Plan) -> dict[str, datetime]:
    return {t.key: t.due_at for t in p.timers}


def clock(p: Plan, metric: SlaMetric) -> Any:
    return next(c for c in p.clocks if c.metric is metric)


def fire(story: Story, p: Plan, key: str) -> None:
    """What the scheduler does: publish the timer's event, which history then folds."""
    timer = next(t for t in p.timers if t.key == key)
    story.add(timer.event)


def test_an_urgent_request_without_reply_is_due_its_targets_around_the_clock() -> None:
    p = Story().plan()
    assert due(p) == {
        "first_reply:warning": T0 + 45 * timedelta(minutes=1),
        "first_reply:breach": T0 + HOUR,
        "resolution:warning": T0 + 6 * HOUR,
        "resolution:breach": T0 + 8 * HOUR,
    }
    first = clock(p, SlaMetric.FIRST_REPLY)
    assert (first.status, first.target_seconds, first.due_at) == ("running", 3600, T0 + HOUR)
    breach = next(t.event for t in p.timers if t.key == "first_reply:breach")
    assert isinstance(breach, SlaBreached)
    assert breach.team == "cards"
    # The same request planned again names the same events: a second firing is the same one.
    story = Story()
    assert [t.event_id for t in story.plan().timers] == [t.event_id for t in story.plan().timers]
    assert len({t.event_id for t in p.timers}) == len(p.timers)


def test_the_plan_does_not_depend_on_the_order_events_came_in() -> None:
    story = Story()
    story.reply(10 * timedelta(minutes=1), to=Status.PENDING)
    story.comment(2 * HOUR, frm=Status.PENDING)
    forward = story.plan()
    view, _ = fold(None, list(reversed(story.events)))
    assert view is not None
    backward = plan(view, RULES)
    assert [(t.key, t.due_at, t.event_id) for t in forward.timers] == [
        (t.key, t.due_at, t.event_id) for t in backward.timers
    ]


def test_a_reply_stops_the_first_reply_clock_and_a_message_starts_the_next() -> None:
    story = Story()
    story.reply(30 * timedelta(minutes=1))
    p = story.plan()
    first = clock(p, SlaMetric.FIRST_REPLY)
    assert (first.status, first.met, first.breached, first.settled_seconds) == (
        "met",
        1,
        0,
        (1800.0,),
    )
    assert "first_reply:breach" not in due(p)
    assert all(c.metric is not SlaMetric.NEXT_REPLY for c in p.clocks)
    story.comment(3 * HOUR)
    p = story.plan()
    assert due(p)["next_reply:breach"] == T0 + 5 * HOUR
    story.reply(6 * HOUR)  # an hour late
    after = clock(story.plan(), SlaMetric.NEXT_REPLY)
    assert (after.status, after.met, after.breached) == ("breached", 0, 1)


def test_a_breach_fires_once_and_counts_while_the_clock_still_runs() -> None:
    story = Story()
    fire(story, story.plan(), "first_reply:breach")
    p = story.plan()
    assert "first_reply:breach" not in due(p)
    assert "first_reply:warning" not in due(p)
    first = clock(p, SlaMetric.FIRST_REPLY)
    assert (first.status, first.breached) == ("breached", 1)
    story.reply(2 * HOUR)
    first = clock(story.plan(), SlaMetric.FIRST_REPLY)
    assert (first.status, first.met, first.breached) == ("breached", 0, 1)


def test_a_transfer_keeps_the_clock_and_takes_the_new_teams_target() -> None:
    story = Story()
    story.transfer(10 * timedelta(minutes=1), "security")
    p = story.plan()
    # Security answers urgent requests in 30 minutes, counted from the first routing.
    assert due(p)["first_reply:breach"] == T0 + 30 * timedelta(minutes=1)
    assert clock(p, SlaMetric.FIRST_REPLY).team == "security"


def test_time_waiting_for_the_customer_does_not_count() -> None:
    story = Story()
    story.status(10 * timedelta(minutes=1), Status.OPEN, Status.PENDING)
    p = story.plan()
    assert clock(p, SlaMetric.FIRST_REPLY).status == "paused"
    assert not any(k.startswith("first_reply") for k in due(p))
    story.comment(5 * HOUR, frm=Status.PENDING)
    # 10 minutes counted before, 50 to go from the customer's answer.
    assert due(story.plan())["first_reply:breach"] == T0 + 5 * HOUR + 50 * timedelta(minutes=1)


def test_a_normal_request_counts_working_hours_only() -> None:
    story = Story(priority=Priority.NORMAL)
    friday_evening = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)  # 19:30 in Malta
    story.events[1] = story.events[1].model_copy(update={"occurred_at": friday_evening})
    # Half an hour on Friday, an hour and a half from 08:00 on Monday (07:00 UTC).
    assert due(story.plan())["first_reply:breach"] == datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def test_a_pending_request_is_reminded_then_solved_and_a_solved_one_closed() -> None:
    story = Story()
    story.reply(HOUR / 2, to=Status.PENDING)
    p = story.plan()
    assert due(p) == {"auto:remind-pending": T0 + HOUR / 2 + 3 * DAY}
    remind = next(t.event for t in p.timers if t.key == "auto:remind-pending")
    assert isinstance(remind, AutomationDue)
    assert remind.action == "remind"
    # The intake applies it: a CustomerReminded, the status unchanged.
    story.add(
        CustomerReminded(
            **story.ids,
            occurred_at=T0 + 3 * DAY + HOUR,
            rule_id="remind-pending",
            waiting_since=remind.waiting_since,
        )
    )
    p = story.plan()
    assert due(p) == {"auto:solve-pending": T0 + 7 * DAY + HOUR}
    solve = next(t.event for t in p.timers if t.key == "auto:solve-pending")
    assert isinstance(solve, AutomationDue)
    assert solve.since_event_id == remind.since_event_id
    story.status(7 * DAY + HOUR, Status.PENDING, Status.SOLVED, rule="solve-pending")
    p = story.plan()
    assert due(p) == {"auto:close-solved": T0 + 11 * DAY + HOUR}
    assert clock(p, SlaMetric.RESOLUTION).status == "met"  # pending time did not count


def test_a_customer_answer_cancels_the_pending_automation() -> None:
    story = Story()
    story.reply(HOUR / 2, to=Status.PENDING)
    assert "auto:remind-pending" in due(story.plan())
    story.comment(DAY, frm=Status.PENDING)
    p = story.plan()
    assert not any(k.startswith("auto:") for k in due(p))
    assert "next_reply:breach" in due(p)


def test_a_warning_is_skipped_once_the_breach_is_recorded_and_recorded_once() -> None:
    story = Story()
    fire(story, story.plan(), "first_reply:warning")
    p = story.plan()
    assert "first_reply:warning" not in due(p)
    assert "first_reply:breach" in due(p)
    warning = [e for e in story.events if isinstance(e, SlaWarning)]
    assert warning
    assert warning[0].share == RULES.warn_at
