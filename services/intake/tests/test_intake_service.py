"""The use cases with in-memory ports: what is recorded and published, what a failed or
unconfirmed publish leaves (the event in the outbox, published once by a retry or the relay),
and what concurrency cannot break."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

import pytest

from intake.domain.activity import MessageLimits
from intake.domain.attachments import AttachmentLimits, CheckedFile
from intake.domain.submission import SubmissionForm, SubmissionLimits
from intake.domain.teams import (
    NotPlacedYetError,
    NotTeamAgentError,
    SameTeamError,
    UnknownTeamError,
)
from intake.service.activity import TicketActivity
from intake.service.agent import AgentActions
from intake.service.customer import CustomerActions
from intake.service.delivery import EventDelivery
from intake.service.errors import (
    AttachmentNotFoundError,
    PublishFailedError,
    RateLimitedError,
    TicketNotFoundError,
)
from intake.service.files import Attachments
from intake.service.idempotency import IdempotencyGate
from intake.service.inbound import InboundMail, Verdict
from intake.service.submission import Submissions
from shared.contracts.catalog import load_catalog
from shared.contracts.events import (
    AssigneeChanged,
    AttachmentRef,
    CommentAdded,
    Envelope,
    NoteAdded,
    StatusChanged,
    TicketRouted,
    TicketSubmitted,
    TicketTransferred,
)
from shared.contracts.statuses import IllegalTransitionError, Status
from shared.contracts.topics import Topics

from .intake_fakes import (
    FakeAttachmentStore,
    FakeDirectory,
    FakeIdempotencyStore,
    FakePublisher,
    FakeRateLimiter,
    FakeSubmissionGate,
    FakeTicketStore,
)
from .intake_samples import jpeg

pytestmark = pytest.mark.unit

FORM = SubmissionForm(
    category="disable-2fa", subject="New phone", description="I lost my authenticator app."
)


@dataclass
class World:
    submissions: Submissions
    customers: CustomerActions
    agents: AgentActions
    attachments: Attachments
    delivery: EventDelivery
    publisher: FakePublisher
    tickets: FakeTicketStore
    files: FakeAttachmentStore
    claims: FakeIdempotencyStore
    gate: FakeSubmissionGate

    def published(self, kind: type[Envelope]) -> list[Envelope]:
        return [e for _, e in self.publisher.events if isinstance(e, kind)]


@pytest.fixture
def world() -> World:
    publisher, tickets, files = FakePublisher(), FakeTicketStore(), FakeAttachmentStore()
    claims, gate_state = FakeIdempotencyStore(), FakeSubmissionGate()
    delivery = EventDelivery(
        store=tickets, publisher=publisher, timeout_seconds=0.2, grace=timedelta(0)
    )
    gate = IdempotencyGate(claims, wait_seconds=2, poll_seconds=0.005)
    activity = TicketActivity(
        topics=Topics(),
        store=tickets,
        delivery=delivery,
        idempotency=gate,
        message_limits=MessageLimits(),
    )
    submissions = Submissions(
        catalog=load_catalog(),
        limits=SubmissionLimits(),
        topics=Topics(),
        store=tickets,
        delivery=delivery,
        attachments=files,
        gate=gate_state,
        rate_limit=3,
    )
    return World(
        submissions=submissions,
        customers=CustomerActions(
            activity=activity,
            attachments=files,
            rate_limiter=FakeRateLimiter(limit=5),
            submissions=submissions,
        ),
        agents=AgentActions(activity=activity, catalog=load_catalog(), directory=FakeDirectory()),
        attachments=Attachments(store=tickets, files=files),
        delivery=delivery,
        publisher=publisher,
        tickets=tickets,
        files=files,
        claims=claims,
        gate=gate_state,
    )


def photo() -> CheckedFile:
    data = jpeg()
    return CheckedFile(
        0, "id.jpg", "image/jpeg", len(data), hashlib.sha256(data).hexdigest(), io.BytesIO(data)
    )


async def submit(world: World, account: str = "acc-1", **kwargs: object) -> str:
    result = await world.submissions.submit(FORM, account_id=account, correlation_id="c", **kwargs)  # type: ignore[arg-type]
    return result.receipt.ticket_id


async def test_a_submission_is_recorded_then_published(world: World) -> None:
    ticket_id = await submit(world, files=[photo()])
    (event,) = world.published(TicketSubmitted)
    assert isinstance(event, TicketSubmitted)
    assert event.ticket_id == ticket_id
    assert not event.required_documents_missing  # the photo came along
    assert world.tickets.tickets[ticket_id].status is Status.NEW
    assert [f[0] for f in world.files.files.values()] == [ticket_id]


async def test_an_unconfirmed_submission_is_kept_and_its_retry_publishes_it_once(
    world: World,
) -> None:
    world.publisher.fail = True
    with pytest.raises(PublishFailedError):
        await submit(world, files=[photo()], idempotency_key="k1")
    (kept,) = world.tickets.tickets.values()
    assert [e.event_id for e in kept.outbox] == [kept.events[0].event_id]
    assert len(world.files.files) == 1  # the recorded event names it: it stays
    assert world.gate.slots("acc-1") == 1  # the request exists: its slot is used

    # Kafka back: the retry with the same key carries out the same plan, once.
    world.publisher.fail = False
    again = await world.submissions.submit(
        FORM, account_id="acc-1", correlation_id="c", files=[photo()], idempotency_key="k1"
    )
    assert again.receipt.ticket_id == kept.ticket_id
    (event,) = world.published(TicketSubmitted)
    assert str(event.event_id) == kept.events[0].event_id
    assert world.tickets.tickets[kept.ticket_id].outbox == ()
    assert len(world.files.files) == 1
    assert len(world.tickets.tickets) == 1


async def test_what_nobody_retries_the_relay_publishes_once(world: World) -> None:
    world.publisher.fail = True
    with pytest.raises(PublishFailedError):
        await submit(world)
    world.publisher.fail = False
    assert await world.delivery.relay_once() == 1
    assert await world.delivery.relay_once() == 0  # delivered: nothing is due any more
    (event,) = world.published(TicketSubmitted)
    assert event.ticket_id in world.tickets.tickets


async def test_a_hung_publish_times_out_promptly(world: World) -> None:
    class Hanging:
        async def publish(self, topic: str, event: Envelope) -> None:
            await asyncio.sleep(60)

    world.delivery.publisher = Hanging()
    started = time.monotonic()
    with pytest.raises(PublishFailedError):
        await submit(world, files=[photo()])
    assert time.monotonic() - started < 1


async def test_a_crash_after_recording_is_answered_by_the_retry_not_repeated(
    world: World,
) -> None:
    """The first attempt recorded the request, then died before publishing it: the retry
    answers with the same request, and the relay publishes it once."""

    class Killed(BaseException):
        pass

    class DiesWhilePublishing:
        async def publish(self, topic: str, event: Envelope) -> None:
            raise Killed

    world.delivery.publisher = DiesWhilePublishing()
    with pytest.raises(Killed):
        await submit(world, idempotency_key="k2")
    world.delivery.publisher = world.publisher
    second = await world.submissions.submit(
        FORM, account_id="acc-1", correlation_id="c", idempotency_key="k2"
    )
    assert second.replayed
    assert list(world.tickets.tickets) == [second.receipt.ticket_id]
    assert world.gate.slots("acc-1") == 1  # the retry took no second slot
    assert await world.delivery.relay_once() == 1
    (event,) = world.published(TicketSubmitted)
    assert event.ticket_id == second.receipt.ticket_id


async def test_an_attempt_that_failed_before_recording_leaves_its_plan_to_the_retry(
    world: World,
) -> None:
    class FailingFiles(FakeAttachmentStore):
        async def save(self, ticket_id: str, account_id: str, file: CheckedFile) -> AttachmentRef:
            raise ConnectionError("GridFS away")

    files = world.submissions.attachments
    world.submissions.attachments = FailingFiles()
    with pytest.raises(ConnectionError):
        await submit(world, files=[photo()])  # no key: the content names the request
    assert world.tickets.tickets == {}
    world.submissions.attachments = files
    retry = await world.submissions.submit(
        FORM, account_id="acc-1", correlation_id="c", files=[photo()]
    )
    (state,) = world.gate.states.values()
    assert [c.plan["ticket_id"] for c in state.claims] == [retry.receipt.ticket_id]
    assert world.gate.slots("acc-1") == 1
    assert len(world.published(TicketSubmitted)) == 1


async def test_concurrent_retries_with_one_key_make_one_ticket(world: World) -> None:
    results = await asyncio.gather(
        *(
            world.submissions.submit(
                FORM, account_id="acc-1", correlation_id="c", idempotency_key="k"
            )
            for _ in range(10)
        )
    )
    assert len({r.receipt for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len(world.published(TicketSubmitted)) == 1


async def test_the_rate_limit_counts_new_requests_only(world: World) -> None:
    for n in range(3):
        await world.submissions.submit(
            SubmissionForm("cards", f"Card {n}", "My card has not arrived."),
            account_id="acc-1",
            correlation_id="c",
        )
    with pytest.raises(RateLimitedError) as caught:
        await world.submissions.submit(
            SubmissionForm("cards", "Card 4", "My card has not arrived."),
            account_id="acc-1",
            correlation_id="c",
        )
    assert 3590 < caught.value.retry_after_seconds <= 3600
    # The same request as the first is a replay, not a fourth request.
    replay = await world.submissions.submit(
        SubmissionForm("cards", "Card 0", "My card has not arrived."),
        account_id="acc-1",
        correlation_id="c",
    )
    assert replay.replayed


async def test_concurrent_status_changes_each_decide_on_the_status_they_replace(
    world: World,
) -> None:
    ticket_id = await submit(world)
    world.tickets.read_delay = 0.01  # every task reads "new" before any writes
    targets = [Status.SOLVED, Status.ON_HOLD, Status.CLOSED, Status.PENDING, Status.OPEN]
    results = await asyncio.gather(
        *(
            world.agents.change_status(ticket_id, t, None, agent_id="ag", correlation_id="c")
            for t in targets
        ),
        return_exceptions=True,
    )
    assert all(
        isinstance(r, IllegalTransitionError) or not isinstance(r, Exception) for r in results
    )
    changes = [e.status_change for e in world.published(StatusChanged)]  # type: ignore[attr-defined]
    # A chain: each change starts where the one before ended, so none passed on a stale read.
    assert changes[0].from_status is Status.NEW
    for before, after in itertools.pairwise(changes):
        assert after.from_status is before.to_status
    assert world.tickets.tickets[ticket_id].status is changes[-1].to_status


async def test_the_same_change_twice_at_once_passes_once(world: World) -> None:
    ticket_id = await submit(world)
    world.tickets.read_delay = 0.01
    results = await asyncio.gather(
        *(
            world.agents.change_status(
                ticket_id, Status.SOLVED, None, agent_id="ag", correlation_id="c"
            )
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert len(world.published(StatusChanged)) == 1


async def test_an_unconfirmed_action_is_kept_and_its_keyed_retry_is_not_a_second_one(
    world: World,
) -> None:
    ticket_id = await submit(world)
    world.publisher.fail = True
    with pytest.raises(PublishFailedError):
        await world.agents.request_information(
            ticket_id, "Send your ID", ["ID"], agent_id="ag", correlation_id="c"
        )
    with pytest.raises(PublishFailedError):
        await world.customers.comment(
            ticket_id, "Here it is", account_id="acc-1", correlation_id="c", idempotency_key="c1"
        )
    record = world.tickets.tickets[ticket_id]
    assert record.status is Status.OPEN  # pending, then re-opened by the comment: both kept
    assert len(record.outbox) == 2  # the information request's and the comment's
    world.publisher.fail = False
    again = await world.customers.comment(
        ticket_id, "Here it is", account_id="acc-1", correlation_id="c", idempotency_key="c1"
    )
    comments = world.published(CommentAdded)
    assert [str(c.event_id) for c in comments] == [str(again.event_id)]
    assert again.status_change is not None
    assert again.status_change.to_status is Status.OPEN
    assert len(world.tickets.tickets[ticket_id].events) == 3  # not a fourth
    # the information request, left unconfirmed before it, went out first: in order
    assert [type(e).__name__ for _, e in world.publisher.events[-2:]] == [
        "InformationRequested",
        "CommentAdded",
    ]


async def test_a_keyed_action_answers_its_retry_from_the_first(world: World) -> None:
    ticket_id = await submit(world)
    first = await world.agents.reply(
        ticket_id,
        "On its way",
        Status.SOLVED,
        agent_id="ag",
        correlation_id="c",
        idempotency_key="r1",
    )
    second = await world.agents.reply(
        ticket_id,
        "On its way",
        Status.SOLVED,
        agent_id="ag",
        correlation_id="c",
        idempotency_key="r1",
    )
    assert (second.event_id, second.replayed) == (first.event_id, True)
    assert world.tickets.tickets[ticket_id].status is Status.SOLVED


async def test_customer_activity_is_rate_limited(world: World) -> None:
    ticket_id = await submit(world)
    for n in range(5):
        await world.customers.comment(
            ticket_id, f"Any news? ({n})", account_id="acc-1", correlation_id="c"
        )
    with pytest.raises(RateLimitedError):
        await world.customers.comment(
            ticket_id, "Any news?!", account_id="acc-1", correlation_id="c"
        )


async def test_someone_elses_request_is_not_found(world: World) -> None:
    ticket_id = await submit(world, files=[photo()])
    with pytest.raises(TicketNotFoundError):
        await world.customers.comment(ticket_id, "hi", account_id="acc-2", correlation_id="c")
    attachment_id = next(iter(world.files.files))
    with pytest.raises(AttachmentNotFoundError):
        await world.attachments.open(ticket_id, attachment_id, reader_id="acc-2", role="customer")
    with pytest.raises(AttachmentNotFoundError):
        await world.attachments.open(ticket_id, attachment_id, reader_id="dash", role="dashboard")
    stored = await world.attachments.open(ticket_id, attachment_id, reader_id="agent", role="agent")
    assert stored.ref.content_type == "image/jpeg"


def routed_to(ticket_id: str, team: str) -> TicketRouted:
    return TicketRouted(
        ticket_id=ticket_id,
        account_id="acc-1",
        correlation_id="c",
        team=team,
        confidence=0.98,
        customer_category="trading",
        customer_team="trading-exchange",
        rerouted_from="trading-exchange" if team != "trading-exchange" else None,
        reason="model",
        model_version="test",
    )


async def test_a_transfer_moves_the_request_with_its_content_and_decision(world: World) -> None:
    ticket_id = await submit(world)
    with pytest.raises(NotPlacedYetError):  # the router's decision has not come in yet
        await world.agents.transfer(
            ticket_id, "security", "2FA", agent_id="agent-1", correlation_id="c"
        )
    await world.tickets.record_decisions([routed_to(ticket_id, "trading-exchange")])
    await world.agents.assign(ticket_id, "agent-2", agent_id="agent-2", correlation_id="c")
    receipt = await world.agents.transfer(
        ticket_id,
        "security",
        "A 2FA reset, not trading",
        agent_id="agent-2",
        correlation_id="c",
    )
    (moved,) = world.published(TicketTransferred)
    assert isinstance(moved, TicketTransferred)
    assert str(moved.event_id) == str(receipt.event_id)
    assert (moved.transfer.from_team, moved.transfer.to_team) == ("trading-exchange", "security")
    assert moved.transfer.reason == "A 2FA reset, not trading"
    assert moved.request.description == FORM.description
    assert moved.decision.reason == "model"
    record = world.tickets.tickets[ticket_id]
    assert (record.team, record.assignee) == ("security", None)  # the old team's agent let go
    for team, error in (
        ("security", SameTeamError),
        ("nowhere", UnknownTeamError),
    ):
        with pytest.raises(error):
            await world.agents.transfer(ticket_id, team, "x", agent_id="a", correlation_id="c")
    # ...and again, as often as it takes
    await world.agents.transfer(
        ticket_id, "account", "Two accounts", agent_id="a", correlation_id="c"
    )
    assert world.tickets.tickets[ticket_id].team == "account"


async def test_only_an_agent_of_the_team_can_be_its_assignee(world: World) -> None:
    ticket_id = await submit(world)
    await world.tickets.record_decisions([routed_to(ticket_id, "withdrawals-transfers")])
    with pytest.raises(NotTeamAgentError):
        await world.agents.assign(ticket_id, "agent-3", agent_id="agent-3", correlation_id="c")
    with pytest.raises(NotTeamAgentError):  # a customer is nobody's agent
        await world.agents.assign(ticket_id, "acc-1001", agent_id="agent-1", correlation_id="c")
    taken = await world.agents.assign(ticket_id, "agent-1", agent_id="agent-2", correlation_id="c")
    assert world.tickets.tickets[ticket_id].assignee == "agent-1"
    released = await world.agents.assign(ticket_id, None, agent_id="agent-1", correlation_id="c")
    assert world.tickets.tickets[ticket_id].assignee is None
    changes = [e for e in world.published(AssigneeChanged) if isinstance(e, AssigneeChanged)]
    assert [(c.assignee, c.previous) for c in changes] == [("agent-1", None), (None, "agent-1")]
    assert taken.status == released.status == Status.NEW  # nobody's status moves


async def test_notes_and_a_status_changes_note_are_internal_events(world: World) -> None:
    ticket_id = await submit(world)
    await world.agents.add_note(ticket_id, "Called the customer", agent_id="ag", correlation_id="c")
    await world.agents.change_status(
        ticket_id, Status.ON_HOLD, "Waiting for the bank", agent_id="ag", correlation_id="c"
    )
    notes = [e.body for e in world.published(NoteAdded) if isinstance(e, NoteAdded)]
    assert notes == ["Called the customer", "Waiting for the bank"]
    (moved,) = world.published(StatusChanged)
    assert isinstance(moved, StatusChanged)
    assert moved.note is None  # the note travels as a note, the move as a move


async def test_first_answers_and_solutions_are_measured_by_whether_the_request_moved(
    world: World,
) -> None:
    seen: list[tuple[str, bool]] = []

    class Recording:
        def first_reply(self, seconds: float, transferred: bool) -> None:
            assert seconds >= 0
            seen.append(("first_reply", transferred))

        def solved(self, transferred: bool) -> None:
            seen.append(("solved", transferred))

    world.agents.observer = Recording()
    direct, moved = await submit(world), await submit(world, account="acc-2")
    for ticket_id in (direct, moved):
        await world.tickets.record_decisions([routed_to(ticket_id, "cards")])
    await world.agents.transfer(moved, "security", "2FA", agent_id="a", correlation_id="c")
    for ticket_id in (direct, moved):
        await world.agents.reply(ticket_id, "First", None, agent_id="a", correlation_id="c")
        await world.agents.reply(ticket_id, "Done", Status.SOLVED, agent_id="a", correlation_id="c")
    assert seen == [
        ("first_reply", False),  # the second reply is not a first one
        ("solved", False),
        ("first_reply", True),
        ("solved", True),
    ]


def inbound(world: World) -> InboundMail:
    return InboundMail(
        store=world.tickets,
        directory=FakeDirectory(),
        customers=world.customers,
        activity=world.customers.activity,
        limits=AttachmentLimits(),
    )


def mail_from(sender: str, text: str, message_id: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = sender, "request@reply.example"
    message["Message-ID"], message["Subject"] = message_id, "Re: your request"
    message.set_content(text)
    return message.as_bytes()


async def test_an_answer_by_mail_is_a_comment_once_and_still_accepted_if_kafka_lags(
    world: World,
) -> None:
    ticket_id = await submit(world, account="acc-1001")
    receiver = inbound(world)
    raw = mail_from("alice@example.com", "Here you go", "<m1@example.com>")
    first = await receiver.receive(ticket_id, "alice@example.com", raw)
    again = await receiver.receive(ticket_id, "alice@example.com", raw)
    assert (first.verdict, again.verdict) == (Verdict.ADDED, Verdict.ADDED)
    comments = [e for e in world.published(CommentAdded) if isinstance(e, CommentAdded)]
    assert [(c.body, c.source) for c in comments] == [("Here you go", "email")]  # once
    world.publisher.fail = True  # the broker away: recorded in the outbox, so accepted
    late = mail_from("alice@example.com", "Another one", "<m2@example.com>")
    assert (await receiver.receive(ticket_id, "alice@example.com", late)).verdict is Verdict.ADDED
    assert any("Another one" in e.payload for e in world.tickets.tickets[ticket_id].outbox)


async def test_mail_from_anyone_else_or_too_often_is_not_added(world: World) -> None:
    ticket_id = await submit(world, account="acc-1001")
    receiver = inbound(world)
    forged = mail_from("bob@example.com", "Let me in", "<f1@example.org>")
    refused = await receiver.receive(ticket_id, "bob@example.com", forged)
    assert (refused.verdict, refused.reason) == (Verdict.REFUSED, "wrong_sender")
    mixed = mail_from("alice@example.com", "Spoofed envelope", "<f2@example.org>")
    assert (await receiver.receive(ticket_id, "bob@example.com", mixed)).reason == "wrong_sender"
    for n in range(5):  # the account's comment limit (5 in this world)
        raw = mail_from("alice@example.com", f"Flood {n}", f"<flood{n}@example.com>")
        await receiver.receive(ticket_id, "alice@example.com", raw)
    flood = mail_from("alice@example.com", "Flood!", "<flood-x@example.com>")
    limited = await receiver.receive(ticket_id, "alice@example.com", flood)
    assert (limited.verdict, limited.reason) == (Verdict.DEFERRED, "rate_limited")
    assert not any("Let me in" in str(e) for _, e in world.publisher.events)


async def test_deferred_clears_share_one_write_and_publish_nothing_twice(world: World) -> None:
    class CountingStore(FakeTicketStore):
        writes: int = 0

        async def delivered(self, deliveries: Mapping[str, Sequence[str]]) -> None:
            self.writes += 1
            await super().delivered(deliveries)

    store = CountingStore()
    world.delivery.store = world.submissions.store = world.tickets = store
    world.delivery.defer_clears = True
    ids = await asyncio.gather(
        *(
            world.submissions.submit(
                SubmissionForm("cards", f"Card {n}", "My card has not arrived."),
                account_id=f"acc-{n}",
                correlation_id="c",
            )
            for n in range(5)
        )
    )
    # Acknowledged but not yet cleared: a retry answers without publishing again.
    again = await world.submissions.submit(
        SubmissionForm("cards", "Card 0", "My card has not arrived."),
        account_id="acc-0",
        correlation_id="c",
    )
    assert again.replayed
    assert any(record.outbox for record in store.tickets.values())
    await world.delivery.flush()
    assert store.writes == 1  # the five clears in one write
    assert all(record.outbox == () for record in store.tickets.values())
    assert sorted(e.ticket_id for e in world.published(TicketSubmitted)) == sorted(
        i.receipt.ticket_id for i in ids
    )
