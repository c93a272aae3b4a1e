from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from notifier.domain.backoff import RetryPolicy
from notifier.ports import LedgerEntry, PermanentMailError, TransientMailError
from shared.contracts.directory import AccountRecord
from shared.contracts.events import (
    AssigneeChanged,
    CustomerReminded,
    NoteAdded,
    NotificationFailed,
    NotificationKind,
    NotificationSent,
    TicketSubmitted,
    new_ticket_id,
)
from shared.kafka.records import InboundRecord, TransientError

from .notifier_fakes import (
    FakeDeadLetters,
    FakeDirectory,
    FakeLedger,
    FakeMailer,
    harness,
    record_of,
)

pytestmark = pytest.mark.unit


def submitted(account_id: str = "acc-1001") -> TicketSubmitted:
    return TicketSubmitted(
        ticket_id=new_ticket_id(),
        account_id=account_id,
        correlation_id="c",
        category="withdrawals",
        subject="Stuck",
        description="Pending for days",
    )


async def test_sends_once_to_the_directory_address_even_when_redelivered() -> None:
    h = harness()
    event = submitted()
    await h.service.handle(event)
    await h.service.handle(event)
    assert len(h.mailer.sent) == 1
    assert h.mailer.sent[0]["To"].addresses[0].addr_spec == "alice@example.com"
    outcomes = h.outcomes()
    assert all(isinstance(e, NotificationSent) for e in outcomes)
    # the outcome is re-announced with the same event id: history applies it once
    assert len({e.event_id for e in outcomes}) == 1  # type: ignore[attr-defined]


async def test_unverified_address_sends_nothing_and_reports_failure() -> None:
    h = harness()
    await h.service.handle(submitted("acc-1003"))
    assert h.mailer.sent == []
    ((topic, failure),) = h.publisher.published
    assert topic == "notifications"
    assert isinstance(failure, NotificationFailed)
    assert "no verified e-mail" in failure.reason
    assert h.failed.parked == []  # nothing an operator can re-drive


async def test_transient_failure_is_retried_later_without_holding_the_consumer() -> None:
    h = harness()
    h.mailer.fail_next.append(TransientMailError("451 try later"))
    event = submitted()
    await h.service.handle(event)  # returns: the partition moves on
    assert h.mailer.sent == []
    assert h.ledger.entries == {}
    ((retry, delay),) = h.retries.scheduled.values()
    assert retry.attempt == 1
    assert 0 < delay <= RetryPolicy().base_seconds
    assert await h.service.retry_due() == 1
    assert len(h.mailer.sent) == 1
    assert h.retries.scheduled == {}
    assert isinstance(h.outcomes()[-1], NotificationSent)


async def test_retries_are_bounded_then_failed_and_dead_lettered() -> None:
    h = harness(max_attempts=3)
    h.mailer.fail_next.extend(TransientMailError("connection refused") for _ in range(3))
    event = submitted()
    await h.service.handle(event)
    await h.service.retry_due()
    await h.service.retry_due()
    assert h.mailer.sent == []
    assert h.retries.scheduled == {}
    (failure,) = h.outcomes()
    assert isinstance(failure, NotificationFailed)
    assert not failure.permanent
    assert "gave up after 3 attempts" in failure.reason
    assert [(source.event_id, attempts) for source, _, attempts in h.failed.parked] == [
        (event.event_id, 3)
    ]


async def test_permanent_failure_fails_fast_into_the_dlq() -> None:
    h = harness()
    h.mailer.fail_next.append(PermanentMailError("550 no such user"))
    event = submitted()
    await h.service.handle(event)
    await h.service.handle(event)  # redelivered: nothing more is sent or parked
    assert h.mailer.sent == []
    assert h.retries.scheduled == {}
    assert len(h.failed.parked) == 1
    assert {type(e) for e in h.outcomes()} == {NotificationFailed}


class CountingLedger(FakeLedger):
    claims: int = 0
    bulk_claims: int = 0

    async def claim(
        self, notification_id: str, *, retake_failed: bool = False
    ) -> LedgerEntry | None:
        self.claims += 1
        return await super().claim(notification_id, retake_failed=retake_failed)

    async def claim_many(self, notification_ids: Sequence[str]) -> dict[str, LedgerEntry | None]:
        self.bulk_claims += 1
        return {i: await FakeLedger.claim(self, i) for i in notification_ids}


class CountingDirectory(FakeDirectory):
    lookups: int = 0

    async def get(self, account_id: str) -> AccountRecord | None:
        self.lookups += 1
        return await super().get(account_id)


async def test_a_batch_reads_accounts_and_claims_once_then_each_mail_only_marks() -> None:
    h = harness()
    ledger, directory = CountingLedger(), CountingDirectory()
    service = replace(h.service, ledger=ledger, directory=directory)
    events = [submitted("acc-1001"), submitted("acc-1002"), submitted("acc-1003")]

    batch = await service.for_batch(events)
    for event in events:
        await batch.handle(event)
    assert (ledger.bulk_claims, directory.lookups) == (1, 0)
    assert ledger.claims == 1  # only acc-1003's failure re-asserts its claim before recording
    assert len(h.mailer.sent) == 2  # acc-1003 has no verified address
    assert {e.state for e in ledger.entries.values()} == {"sent", "failed"}

    # The whole batch redelivered: the bulk claim finds them done, nothing is sent again.
    again = await service.for_batch(events)
    for event in events:
        await again.handle(event)
    assert len(h.mailer.sent) == 2
    assert ledger.bulk_claims == 2


async def test_a_redriven_event_in_a_batch_retakes_its_failed_notification() -> None:
    h = harness()
    h.mailer.fail_next.append(PermanentMailError("550 mailbox full"))
    event = submitted()
    await h.service.handle(event)
    assert h.mailer.sent == []
    batch = await h.service.for_batch([event])
    await batch.handle(event)  # a plain redelivery: failed stays failed
    assert h.mailer.sent == []
    await batch.handle(event, redriven=True)  # the operator re-drove it after a fix
    assert len(h.mailer.sent) == 1


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=2, max_delay_seconds=30)
    delays = [policy.delay(n) for n in range(1, 8)]
    assert all(1 <= d <= 2 for d in delays[:1])
    assert all(15 <= d <= 30 for d in delays[4:])
    assert policy.gives_up_after(10)
    assert not policy.gives_up_after(9)


async def test_a_consumed_batch_parks_what_it_cannot_handle_and_mails_the_rest() -> None:
    h = harness()
    dead_letters = FakeDeadLetters()
    service = replace(h.service, dead_letters=dead_letters)
    good, also_good = submitted("acc-1001"), submitted("acc-1002")
    poison = InboundRecord("tickets.submitted", 0, 1, None, b"\xff not an event", {})
    await service.handle_records([record_of(good, 0), poison, record_of(also_good, 2)])
    assert [r.offset for r, _ in dead_letters.parked] == [1]
    assert len(h.mailer.sent) == 2

    # A failure that persists parks its own record only; a transient one stops the batch.
    class Broken(FakeMailer):
        async def send(self, message: object) -> None:
            raise RuntimeError("template exploded")

    broken = replace(service, mailer=Broken())
    await broken.handle_records([record_of(submitted("acc-1002"), 3)])
    assert [r.offset for r, _ in dead_letters.parked] == [1, 3]

    class Down(FakeDirectory):
        async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
            raise TransientError("directory unreachable")

    with pytest.raises(TransientError):
        await replace(service, directory=Down()).handle_records([record_of(submitted(), 4)])


async def test_a_redriven_record_retakes_its_failed_notification() -> None:
    h = harness()
    h.mailer.fail_next.append(PermanentMailError("550 mailbox full"))
    event = submitted()
    await h.service.handle_records([record_of(event, 0)])
    assert h.mailer.sent == []
    await h.service.handle_records([record_of(event, 0)])  # a plain redelivery
    assert h.mailer.sent == []
    await h.service.handle_records([record_of(event, 0, **{"x-redrive-count": "1"})])
    assert len(h.mailer.sent) == 1


async def test_internal_activity_is_never_mailed_to_the_customer() -> None:
    h = harness()
    dead_letters = FakeDeadLetters()
    service = replace(h.service, dead_letters=dead_letters)
    ids = {"ticket_id": new_ticket_id(), "account_id": "acc-1001", "correlation_id": "c"}
    note = NoteAdded(**ids, agent_id="agent-1", body="Customer sounds upset")
    taken = AssigneeChanged(**ids, actor_id="agent-1", team="cards", assignee="agent-1")
    records = [
        InboundRecord("tickets.activity", 0, n, None, e.model_dump_json().encode(), {})
        for n, e in enumerate((note, taken))
    ]
    await service.handle_records(records)
    assert h.mailer.sent == []
    assert dead_letters.parked == []  # known, just not mailed: nothing is poison


async def test_a_reminder_on_the_activity_topic_is_decoded_mailed_and_announced() -> None:
    h = harness()
    dead_letters = FakeDeadLetters()
    service = replace(h.service, dead_letters=dead_letters)
    reminder = CustomerReminded(
        ticket_id=new_ticket_id(),
        account_id="acc-1001",
        correlation_id="c",
        rule_id="remind-pending-3d",
        waiting_since=datetime(2026, 11, 28, tzinfo=UTC),
    )
    await service.handle_records([record_of(reminder, 0, topic="tickets.activity")])
    assert dead_letters.parked == []
    (mail,) = h.mailer.sent
    assert mail["X-Notification-Id"] == f"{reminder.event_id}:reminder"
    (outcome,) = h.outcomes()
    assert isinstance(outcome, NotificationSent)
    assert outcome.kind is NotificationKind.REMINDER
    assert outcome.source_event_id == reminder.event_id
