"""Sending a batch's mails concurrently without widening the duplicate window: the marks'
group commit (notifier.batch.SentMarks), one request's mails in order, the outcomes announced
once per batch, and what a crash mid-batch can send twice (at most one mail per sender)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

import pytest
from pymongo.errors import AutoReconnect

from notifier.batch import SentMarks
from notifier.service import NotificationService
from shared.contracts.events import (
    AgentReplied,
    Envelope,
    NotificationSent,
    TicketSubmitted,
    new_ticket_id,
)
from shared.kafka.records import InboundRecord
from shared.waiting import wait_until

from .notifier_fakes import FakeLedger, FakeMailer, FakePublisher, harness, record_of

pytestmark = pytest.mark.unit

DEADLINE = 5.0


@dataclass
class GatedLedger(FakeLedger):
    """Records each write of marks; a write waits while the gate is closed (it closes itself
    after `stall_after` writes: the store stops answering)."""

    writes: list[list[str]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    failures: list[BaseException] = field(default_factory=list)
    stall_after: int | None = None

    def __post_init__(self) -> None:
        self.gate.set()

    async def mark_sent_many(self, marks: Mapping[str, str]) -> None:
        if self.stall_after is not None and len(self.writes) >= self.stall_after:
            self.gate.clear()
        self.writes.append(sorted(marks))
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        await super().mark_sent_many(marks)


async def test_marks_that_arrive_during_a_write_go_together_in_the_next() -> None:
    ledger = GatedLedger()
    ledger.gate.clear()
    marks = SentMarks(ledger)
    senders = [asyncio.create_task(marks.mark_sent(f"n{i}", f"<m{i}>")) for i in range(5)]

    async def queued() -> bool:
        return ledger.writes == [["n0"]] and marks.unwritten == 4

    await wait_until(queued, timeout=DEADLINE, what="four marks queued behind the first write")
    assert not any(s.done() for s in senders)  # nobody goes on before its mark is written
    ledger.gate.set()
    await asyncio.gather(*senders)
    assert ledger.writes == [["n0"], ["n1", "n2", "n3", "n4"]]
    assert {e.state for e in ledger.entries.values()} == {"sent"}
    assert marks.writes == 2


async def test_a_transient_store_failure_is_retried_and_a_lasting_one_fails_every_mark() -> None:
    ledger = GatedLedger(failures=[AutoReconnect("primary stepped down")] * 2)
    marks = SentMarks(ledger, retry_delays=(0, 0, 0))
    await marks.mark_sent("n0", "<m0>")
    assert ledger.writes == [["n0"]] * 3
    assert ledger.entries["n0"].state == "sent"

    ledger = GatedLedger(failures=[RuntimeError("bug")])
    ledger.gate.clear()
    marks = SentMarks(ledger, retry_delays=(0,))
    first = asyncio.create_task(marks.mark_sent("n0", "<m0>"))
    await wait_until(lambda: _true(ledger.writes), timeout=DEADLINE, what="the first write")
    second = asyncio.create_task(marks.mark_sent("n1", "<m1>"))
    await wait_until(lambda: _true(marks.unwritten == 1), timeout=DEADLINE, what="n1 queued")
    ledger.failures.append(RuntimeError("still a bug"))
    ledger.gate.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["bug", "still a bug"]
    assert ledger.entries == {}


async def test_a_writer_cancelled_mid_write_leaves_its_marks_to_the_next() -> None:
    ledger = GatedLedger()
    ledger.gate.clear()
    marks = SentMarks(ledger)
    first = asyncio.create_task(marks.mark_sent("n0", "<m0>"))
    await wait_until(lambda: _true(ledger.writes), timeout=DEADLINE, what="the first write")
    second = asyncio.create_task(marks.mark_sent("n1", "<m1>"))
    await wait_until(lambda: _true(marks.unwritten == 1), timeout=DEADLINE, what="n1 queued")
    first.cancel()
    ledger.gate.set()
    await second
    assert ledger.writes[-1] == ["n0", "n1"]
    assert ledger.entries["n0"].state == "sent"  # it was accepted by then: marked all the same


async def _true(value: object) -> bool:
    return bool(value)


# -- the service, sending concurrently ---------------------------------------------------------


@dataclass
class Window:
    """Mails the SMTP server accepted whose mark is not written yet: what a crash at that
    moment would send again."""

    unmarked: set[str] = field(default_factory=set)
    widest: int = 0

    def accepted(self, notification_id: str) -> None:
        self.unmarked.add(notification_id)
        self.widest = max(self.widest, len(self.unmarked))


@dataclass
class SlowMailer(FakeMailer):
    """Accepts each mail after a few turns of the event loop (an SMTP exchange's I/O), fewer
    or more depending on the mail, so concurrent senders finish in a shuffled order."""

    window: Window = field(default_factory=Window)

    async def send(self, message: EmailMessage) -> None:
        notification_id = str(message["X-Notification-Id"])
        for _ in range(sum(map(ord, notification_id)) % 7 + 1):
            await asyncio.sleep(0)  # I/O latency, not a synchronisation: nothing waits on it
        await super().send(message)
        self.window.accepted(notification_id)


@dataclass
class WindowLedger(GatedLedger):
    window: Window = field(default_factory=Window)

    async def mark_sent_many(self, marks: Mapping[str, str]) -> None:
        for _ in range(3):
            await asyncio.sleep(0)  # a write's round trip
        await super().mark_sent_many(marks)
        self.window.unmarked -= set(marks)


@dataclass
class CountingPublisher(FakePublisher):
    calls: int = 0

    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        self.calls += 1
        await super().publish_many(items)


def concurrent(concurrency: int) -> tuple[NotificationService, SlowMailer, WindowLedger]:
    window = Window()
    mailer, ledger = SlowMailer(window=window), WindowLedger(window=window)
    service = replace(
        harness().service,
        mailer=mailer,
        ledger=ledger,
        publisher=CountingPublisher(),
        concurrency=concurrency,
    )
    return service, mailer, ledger


def requests(count: int) -> tuple[list[InboundRecord], dict[str, list[str]]]:
    """Each request's submission and two replies, interleaved with the others' as a partition
    holds them; and each request's notification ids in the order they must be sent."""
    records: list[InboundRecord] = []
    order: dict[str, list[str]] = {}
    events: list[list[tuple[str, Envelope]]] = []
    for n in range(count):
        ids = {
            "ticket_id": new_ticket_id(),
            "account_id": ("acc-1001", "acc-1002")[n % 2],
            "correlation_id": "c",
        }
        submitted = TicketSubmitted(**ids, category="cards", subject="s", description="d")
        replies = [AgentReplied(**ids, agent_id="agent-1", body=f"Reply {r}") for r in (1, 2)]
        events.append(
            [("tickets.submitted", submitted)] + [("tickets.activity", r) for r in replies]
        )
        order[ids["ticket_id"]] = [f"{submitted.event_id}:acknowledgement"] + [
            f"{r.event_id}:agent_reply" for r in replies
        ]
    for step in range(3):
        for per_request in events:
            topic, event = per_request[step]
            records.append(record_of(event, len(records), topic=topic))
    return records, order


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_concurrent_batch_keeps_each_requests_order_and_one_unmarked_mail_per_sender(
    concurrency: int,
) -> None:
    service, mailer, ledger = concurrent(concurrency)
    records, order = requests(12)
    await service.handle_records(records)

    sent = [str(m["X-Notification-Id"]) for m in mailer.sent]
    assert Counter(sent) == Counter(n for ids in order.values() for n in ids)
    for ticket_id, expected in order.items():
        assert [n for n in sent if n in expected] == expected, ticket_id
    # Never more mails between the server's acceptance and their mark than senders...
    assert ledger.window.widest <= concurrency
    assert ledger.window.unmarked == set()
    if concurrency > 1:  # ...and the senders did overlap
        assert ledger.window.widest > 1
        assert len(ledger.writes) < len(sent)  # marks shared writes
    publisher = service.publisher
    assert isinstance(publisher, CountingPublisher)
    assert publisher.calls == 1  # the batch's outcomes, together, once its mails are done
    announced = [e for _, e in publisher.published if isinstance(e, NotificationSent)]
    assert Counter(e.notification_id for e in announced) == Counter(sent)
    assert len(announced) == len(publisher.published)

    # Redelivered whole: every claim is found, nothing is sent again, the outcomes re-announced.
    await service.handle_records(records)
    assert len(mailer.sent) == len(sent)
    assert publisher.calls == 2
    assert len(publisher.published) == 2 * len(sent)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_crash_mid_batch_sends_again_only_the_unmarked_mails_once_each(
    concurrency: int,
) -> None:
    service, mailer, ledger = concurrent(concurrency)
    records, order = requests(12)
    # After a few marks the store stops answering: every sender ends up waiting for its mark.
    ledger.stall_after = 5
    batch = asyncio.create_task(service.handle_records(records))

    async def stuck() -> bool:
        return len(ledger.window.unmarked) == concurrency

    await wait_until(stuck, timeout=DEADLINE, what="every sender waiting for its mark")
    in_flight = set(ledger.window.unmarked)
    batch.cancel()  # the process dies: the marks waiting are never written
    with pytest.raises(asyncio.CancelledError):
        await batch
    sent_before = Counter(str(m["X-Notification-Id"]) for m in mailer.sent)

    restarted = replace(service, ledger=FakeLedger(dict(ledger.entries)))
    await restarted.handle_records(records)  # the batch redelivered
    sent = Counter(str(m["X-Notification-Id"]) for m in mailer.sent)
    assert set(sent) == {n for ids in order.values() for n in ids}  # every mail went out
    again = sent - Counter(dict.fromkeys(sent, 1))
    assert set(again) == in_flight  # only the ones in the window, each once more
    assert set(again) <= set(sent_before)
    assert sum(again.values()) == len(in_flight) <= concurrency
