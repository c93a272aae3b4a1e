"""Time rules applied by the intake, with in-memory ports: an AutomationDue reminds, solves or
closes a request only if it is still where the rule found it; otherwise, and for a request
the intake does not know, nothing is recorded or published. A redelivery records once. And
through the Kafka subscriber (FastStream's TestKafkaBroker): poison to the DLQ, SLA alerts
ignored, outcomes counted."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
import structlog.testing
from faststream.kafka import TestKafkaBroker

from intake.app import build
from intake.domain.activity import ClosedRequestError, MessageLimits
from intake.domain.automations import Skip, status_set_by, why_not_applicable
from intake.domain.outbox import RecordedEvent
from intake.domain.submission import SubmissionForm, SubmissionLimits
from intake.service import automations as automations_service
from intake.service.activity import TicketActivity
from intake.service.agent import AgentActions
from intake.service.automations import Automations
from intake.service.customer import CustomerActions
from intake.service.delivery import EventDelivery
from intake.service.idempotency import IdempotencyGate
from intake.service.submission import Submissions
from intake.settings import IntakeSettings
from shared.contracts.catalog import load_catalog
from shared.contracts.events import (
    AutomationAction,
    AutomationDue,
    CustomerReminded,
    Envelope,
    Priority,
    SlaMetric,
    SlaWarning,
    StatusChanged,
    StatusTransition,
)
from shared.contracts.statuses import IllegalTransitionError, Status
from shared.contracts.topics import Topics
from shared.kafka.context import raw_body
from shared.kafka.publishing import event_headers

from .intake_fakes import (
    FakeAttachmentStore,
    FakeDirectory,
    FakeIdempotencyStore,
    FakePublisher,
    FakeRateLimiter,
    FakeSubmissionGate,
    FakeTicketStore,
)

pytestmark = pytest.mark.unit

ACTIVITY = Topics().activity
SLA = Topics().sla
_SUBMITTED = itertools.count(1)
WAITING_SINCE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class World:
    submissions: Submissions
    customers: CustomerActions
    agents: AgentActions
    automations: Automations
    activity: TicketActivity
    publisher: FakePublisher
    tickets: FakeTicketStore
    outcomes: list[tuple[str, str]]

    def published(self) -> list[Envelope]:
        return [e for _, e in self.publisher.events if isinstance(e, Envelope)]

    def activity_events(self, ticket_id: str) -> list[Envelope]:
        return [
            e
            for topic, e in self.publisher.events
            if topic == ACTIVITY and isinstance(e, Envelope) and e.ticket_id == ticket_id
        ]

    def recorded(self, ticket_id: str) -> tuple[RecordedEvent, ...]:
        return self.tickets.tickets[ticket_id].events


@pytest.fixture
def world() -> World:
    publisher, tickets = FakePublisher(), FakeTicketStore()
    delivery = EventDelivery(
        store=tickets, publisher=publisher, timeout_seconds=0.2, grace=timedelta(0)
    )
    gate = IdempotencyGate(FakeIdempotencyStore(), wait_seconds=2, poll_seconds=0.005)
    activity = TicketActivity(
        topics=Topics(),
        store=tickets,
        delivery=delivery,
        idempotency=gate,
        message_limits=MessageLimits(),
    )
    files = FakeAttachmentStore()
    submissions = Submissions(
        catalog=load_catalog(),
        limits=SubmissionLimits(),
        topics=Topics(),
        store=tickets,
        delivery=delivery,
        attachments=files,
        gate=FakeSubmissionGate(),
        rate_limit=20,
    )
    outcomes: list[tuple[str, str]] = []
    return World(
        submissions=submissions,
        customers=CustomerActions(
            activity=activity,
            attachments=files,
            rate_limiter=FakeRateLimiter(),
            submissions=submissions,
        ),
        agents=AgentActions(activity=activity, catalog=load_catalog(), directory=FakeDirectory()),
        automations=Automations(
            activity=activity, on_outcome=lambda rule, outcome: outcomes.append((rule, outcome))
        ),
        activity=activity,
        publisher=publisher,
        tickets=tickets,
        outcomes=outcomes,
    )


async def submit(world: World, account: str = "acc-1001") -> str:
    # each one its own request (an identical one within minutes is a retry of the first)
    form = SubmissionForm(
        category="withdrawals",
        subject="Withdrawal stuck",
        description=f"My BTC withdrawal number {next(_SUBMITTED)} is stuck.",
    )
    result = await world.submissions.submit(form, account_id=account, correlation_id="c-sub")
    return result.receipt.ticket_id


async def pending(world: World) -> tuple[str, str]:
    """A request an agent asked the customer about: (its id, the event that made it pending)."""
    ticket_id = await submit(world)
    asked = await world.agents.request_information(
        ticket_id, "Which address did you send it to?", (), agent_id="agent-1", correlation_id="c"
    )
    assert asked.status is Status.PENDING
    return ticket_id, str(asked.event_id)


async def solved(world: World) -> tuple[str, str]:
    ticket_id = await submit(world)
    answer = await world.agents.reply(
        ticket_id, "It is on its way.", Status.SOLVED, agent_id="agent-1", correlation_id="c"
    )
    assert answer.status is Status.SOLVED
    return ticket_id, str(answer.event_id)


def due(
    ticket_id: str,
    action: AutomationAction,
    since_event_id: str,
    *,
    status: Status = Status.PENDING,
    rule_id: str = "pending-reminder-48h",
    note: str = "",
    account_id: str = "acc-1001",
) -> AutomationDue:
    return AutomationDue(
        ticket_id=ticket_id,
        account_id=account_id,
        correlation_id="c-rule",
        rule_id=rule_id,
        action=action,
        status=status,
        since_event_id=since_event_id,
        waiting_since=WAITING_SINCE,
        note=note,
    )


# --- the decision (pure) -------------------------------------------------------------------


def test_the_status_is_set_by_the_latest_event_that_changed_it() -> None:
    move = StatusTransition(from_status=Status.NEW, to_status=Status.PENDING)
    back = StatusTransition(from_status=Status.PENDING, to_status=Status.OPEN)
    events = (
        RecordedEvent("e1", "TicketSubmitted"),
        RecordedEvent("e2", "InformationRequested", move),
        RecordedEvent("e3", "NoteAdded"),
    )
    assert status_set_by(events) == "e2"
    assert status_set_by(events[:1]) is None

    def why(status: Status, since: str, *more: RecordedEvent) -> Skip | None:
        return why_not_applicable(
            status, (*events, *more), waits_on=Status.PENDING, since_event_id=since
        )

    assert why(Status.PENDING, "e2") is None  # still where the rule found it
    assert why(Status.PENDING, "e1") is Skip.MOVED_SINCE
    assert why(Status.OPEN, "e2", RecordedEvent("e4", "CommentAdded", back)) is (
        Skip.STATUS_CHANGED
    )


# --- applied -------------------------------------------------------------------------------


async def test_a_reminder_is_an_event_and_no_status_change(world: World) -> None:
    ticket_id, since = await pending(world)
    before = len(world.published())
    result = await world.automations.apply(due(ticket_id, "remind", since))
    assert result.applied
    assert result.skipped is None
    (reminded,) = world.published()[before:]
    assert isinstance(reminded, CustomerReminded)
    assert reminded.event_id == result.event_id
    assert (reminded.rule_id, reminded.waiting_since) == ("pending-reminder-48h", WAITING_SINCE)
    assert (reminded.ticket_id, reminded.account_id) == (ticket_id, "acc-1001")
    assert reminded.correlation_id == "c-rule"
    assert world.activity_events(ticket_id)[-1] is reminded  # on tickets.activity
    record = world.tickets.tickets[ticket_id]
    assert record.status is Status.PENDING
    assert record.events[-1].status_change is None
    assert world.outcomes == [("pending-reminder-48h", "applied")]
    # A reminder leaves the request where the rule found it: a later rule still applies.
    later = due(ticket_id, "solve", since, rule_id="pending-solve-7d")
    assert (await world.automations.apply(later)).applied


async def test_solving_a_request_that_waited_on_the_customer(world: World) -> None:
    ticket_id, since = await pending(world)
    rule = due(ticket_id, "solve", since, rule_id="pending-solve-7d", note="No answer in 7 days ")
    result = await world.automations.apply(rule)
    assert result.applied
    (moved,) = [e for e in world.activity_events(ticket_id) if isinstance(e, StatusChanged)]
    assert moved.event_id == result.event_id
    assert moved.status_change == StatusTransition(
        from_status=Status.PENDING, to_status=Status.SOLVED
    )
    assert (moved.actor_role, moved.actor_id) == ("system", "automation:pending-solve-7d")
    assert (moved.rule_id, moved.note) == ("pending-solve-7d", "No answer in 7 days")
    assert world.tickets.tickets[ticket_id].status is Status.SOLVED
    assert world.outcomes == [("pending-solve-7d", "applied")]


async def test_closing_a_solved_request(world: World) -> None:
    ticket_id, since = await solved(world)
    rule = due(ticket_id, "close", since, status=Status.SOLVED, rule_id="solved-close-4d")
    result = await world.automations.apply(rule)
    assert result.applied
    moved = world.activity_events(ticket_id)[-1]
    assert isinstance(moved, StatusChanged)
    assert moved.status_change == StatusTransition(
        from_status=Status.SOLVED, to_status=Status.CLOSED
    )
    assert (moved.actor_role, moved.actor_id) == ("system", "automation:solved-close-4d")
    assert moved.rule_id == "solved-close-4d"
    assert moved.note is None  # the rule had no words
    assert world.tickets.tickets[ticket_id].status is Status.CLOSED


async def test_an_automations_own_solve_is_what_the_close_rule_waits_on(world: World) -> None:
    ticket_id, since = await pending(world)
    solve = await world.automations.apply(due(ticket_id, "solve", since, rule_id="solve"))
    assert solve.event_id is not None
    close = due(ticket_id, "close", str(solve.event_id), status=Status.SOLVED, rule_id="close")
    assert (await world.automations.apply(close)).applied
    assert world.tickets.tickets[ticket_id].status is Status.CLOSED


# --- skipped -------------------------------------------------------------------------------


async def test_skipped_when_the_customer_answered_in_between(world: World) -> None:
    ticket_id, since = await pending(world)
    await world.customers.comment(
        ticket_id, "I sent it to my own wallet.", account_id="acc-1001", correlation_id="c"
    )
    assert world.tickets.tickets[ticket_id].status is Status.OPEN  # the comment re-opened it
    recorded, published = world.recorded(ticket_id), len(world.published())
    for action in ("remind", "solve"):
        result = await world.automations.apply(due(ticket_id, action, since, rule_id=action))
        assert (result.applied, result.skipped) == (False, Skip.STATUS_CHANGED)
    assert world.recorded(ticket_id) == recorded  # nothing recorded
    assert len(world.published()) == published  # nothing published
    assert world.outcomes == [("remind", "skipped"), ("solve", "skipped")]


async def test_skipped_when_the_request_left_the_status_and_came_back(world: World) -> None:
    """Pending again, but not since the event the rule saw: its clock started over."""
    ticket_id, since = await pending(world)
    await world.customers.comment(
        ticket_id, "Which address do you mean?", account_id="acc-1001", correlation_id="c"
    )
    asked = await world.agents.request_information(
        ticket_id, "The one you withdrew to.", (), agent_id="agent-1", correlation_id="c"
    )
    assert asked.status is Status.PENDING
    published = len(world.published())
    result = await world.automations.apply(due(ticket_id, "solve", since))
    assert (result.applied, result.skipped) == (False, Skip.MOVED_SINCE)
    assert len(world.published()) == published
    assert world.tickets.tickets[ticket_id].status is Status.PENDING
    # The rule's new run, from the event that made it pending again, applies.
    assert (await world.automations.apply(due(ticket_id, "solve", str(asked.event_id)))).applied


async def test_skipped_when_an_agent_moved_it(world: World) -> None:
    ticket_id, since = await solved(world)
    await world.agents.change_status(
        ticket_id, Status.OPEN, None, agent_id="agent-1", correlation_id="c"
    )
    rule = due(ticket_id, "close", since, status=Status.SOLVED)
    assert (await world.automations.apply(rule)).skipped is Skip.STATUS_CHANGED
    assert world.tickets.tickets[ticket_id].status is Status.OPEN


async def test_skipped_when_the_request_is_unknown(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = due("ZZZZ-ZZZZ-ZZZZ", "solve", "e-1", account_id="acc-secret-9")
    # The module's logger, captured whatever the session configured (and cached) logging to.
    capture = structlog.testing.LogCapture()
    monkeypatch.setattr(
        automations_service, "log", structlog.wrap_logger(None, processors=[capture])
    )
    logged = capture.entries
    result = await world.automations.apply(rule)
    assert (result.applied, result.skipped) == (False, Skip.UNKNOWN)
    assert world.published() == []
    assert world.outcomes == [("pending-reminder-48h", "skipped")]
    assert any("automation skipped" in str(entry.get("event")) for entry in logged)
    assert "acc-secret-9" not in repr(logged)  # no account id in the logs


# --- once ----------------------------------------------------------------------------------


async def test_a_redelivered_automation_records_once(world: World) -> None:
    ticket_id, since = await pending(world)
    rule = due(ticket_id, "solve", since)
    first = await world.automations.apply(rule)
    published = len(world.published())
    again = await world.automations.apply(rule)  # the same AutomationDue, delivered again
    assert first.applied
    assert not again.applied
    assert again.skipped is Skip.ALREADY_APPLIED
    assert again.event_id == first.event_id
    assert len(world.published()) == published  # nothing new
    ids = [e.event_id for e in world.recorded(ticket_id)]
    assert ids.count(str(first.event_id)) == 1
    assert len([e for e in world.published() if isinstance(e, StatusChanged)]) == 1
    assert world.tickets.tickets[ticket_id].status is Status.SOLVED


async def test_a_redelivered_reminder_reminds_once(world: World) -> None:
    ticket_id, since = await pending(world)
    rule = due(ticket_id, "remind", since)
    for _ in range(3):
        await world.automations.apply(rule)
    reminders = [e for e in world.published() if isinstance(e, CustomerReminded)]
    assert len(reminders) == 1
    assert world.outcomes == [
        ("pending-reminder-48h", "applied"),
        ("pending-reminder-48h", "skipped"),
        ("pending-reminder-48h", "skipped"),
    ]


async def test_applied_when_kafka_is_away_and_published_by_the_relay(world: World) -> None:
    ticket_id, since = await pending(world)
    world.publisher.fail = True
    result = await world.automations.apply(due(ticket_id, "remind", since))
    assert result.applied  # recorded with its event in the outbox
    (kept,) = world.tickets.tickets[ticket_id].outbox
    assert kept.event_id == str(result.event_id)
    world.publisher.fail = False
    await world.activity.delivery.relay_once()
    assert [e.event_id for e in world.published() if isinstance(e, CustomerReminded)] == [
        result.event_id
    ]


async def test_a_rule_against_the_state_machine_is_refused(world: World) -> None:
    """A rule that would close a request waiting on the customer is a malformed message (the
    subscriber sends it to the DLQ), never a silent move."""
    ticket_id, since = await pending(world)
    with pytest.raises(IllegalTransitionError):
        await world.automations.apply(due(ticket_id, "close", since))
    closed_id, solved_by = await solved(world)
    rule = due(closed_id, "close", solved_by, status=Status.SOLVED)
    closed = await world.automations.apply(rule)
    assert closed.event_id is not None
    with pytest.raises(ClosedRequestError):
        await world.automations.apply(
            due(closed_id, "remind", str(closed.event_id), status=Status.CLOSED)
        )
    assert world.tickets.tickets[ticket_id].status is Status.PENDING


# --- through the subscriber ----------------------------------------------------------------


def warning_for(ticket_id: str) -> SlaWarning:
    return SlaWarning(
        ticket_id=ticket_id,
        account_id="acc-1001",
        correlation_id="c",
        metric=SlaMetric.FIRST_REPLY,
        cycle="first_reply",
        team="withdrawals-transfers",
        priority=Priority.NORMAL,
        target_seconds=3600,
        due_at=WAITING_SINCE,
        business_hours=False,
        share=0.8,
    )


def capture(into: list[Any]) -> Callable[[Any], Awaitable[None]]:
    async def handle(received: Any) -> None:
        # Under the FastAPI integration a bytes body arrives as the message itself.
        into.append(getattr(received, "body", received))

    return handle


async def test_the_subscriber_applies_due_automations_and_dead_letters_poison(
    world: World,
) -> None:
    built = build(IntakeSettings())
    built.http.state.automations.activity = world.activity  # the in-memory ports
    dead: list[Any] = []
    built.broker.subscriber(Topics.dlq(SLA), decoder=raw_body)(capture(dead))
    ticket_id, since = await pending(world)
    solve = due(ticket_id, "solve", since, rule_id="pending-solve-7d")
    unknown = due("ZZZZ-ZZZZ-ZZZZ", "remind", "e-1")
    before = len(world.published())
    messages: list[bytes | Envelope] = [
        b"not json at all",
        warning_for(ticket_id),  # for the teams: the intake ignores it
        solve,
        solve,  # redelivered
        unknown,
    ]
    async with TestKafkaBroker(built.broker) as broker:
        for message in messages:
            if isinstance(message, Envelope):
                await broker.publish(
                    message.model_dump_json().encode(),
                    topic=SLA,
                    key=message.ticket_id.encode(),
                    headers=event_headers(message),
                )
            else:
                await broker.publish(message, topic=SLA)
    assert dead == [b"not json at all"]
    (moved,) = world.published()[before:]
    assert isinstance(moved, StatusChanged)
    assert moved.actor_id == "automation:pending-solve-7d"
    assert world.tickets.tickets[ticket_id].status is Status.SOLVED
    samples = {
        (s.labels["rule"], s.labels["outcome"]): s.value
        for family in built.metrics.registry.collect()
        if family.name == "helpdesk_automations"
        for s in family.samples
        if s.name == "helpdesk_automations_total"
    }
    assert samples == {
        ("pending-solve-7d", "applied"): 1.0,
        ("pending-solve-7d", "skipped"): 1.0,  # the redelivery
        ("pending-reminder-48h", "skipped"): 1.0,  # the unknown request
    }


async def test_a_malformed_rule_goes_to_the_dlq_and_the_rest_goes_on(world: World) -> None:
    built = build(IntakeSettings())
    built.http.state.automations.activity = world.activity
    dead: list[Any] = []
    built.broker.subscriber(Topics.dlq(SLA), decoder=raw_body)(capture(dead))

    ticket_id, since = await pending(world)
    wrong = due(ticket_id, "close", since)  # pending cannot be closed
    good = due(ticket_id, "remind", since)
    async with TestKafkaBroker(built.broker) as broker:
        for event in (wrong, good):
            await broker.publish(
                event.model_dump_json().encode(), topic=SLA, headers=event_headers(event)
            )
    assert dead == [wrong.model_dump_json().encode()]
    assert len([e for e in world.published() if isinstance(e, CustomerReminded)]) == 1
    assert world.tickets.tickets[ticket_id].status is Status.PENDING
