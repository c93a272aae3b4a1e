"""The notifier's MongoDB adapters against a real MongoDB wire protocol (embedded SecantusDB
or a testcontainers MongoDB): the batch's bulk claim, bulk marks and directory read, the
requests' languages, a deferred recovery mail, and the round trips of mails sent at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devstack.stack import EmbeddedStack
from notifier.adapters.mongo import MongoNotificationLedger, MongoRequestLocales, MongoRetryQueue
from notifier.app import wire
from notifier.ports import LedgerEntry, ScheduledRetry
from notifier.settings import NotifierSettings
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord
from shared.contracts.events import (
    AccountRecoveryRequested,
    TicketSubmitted,
    new_ticket_id,
    utcnow,
)
from shared.kafka.broker import create_broker
from shared.mongo import Document, MongoAccountDirectory, RoundTrips, create_mongo_client

from .notifier_fakes import FakeDeadLetters, FakePublisher, record_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(infra: EmbeddedStack) -> AsyncIterator[AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.config.mongo_url)
    name = f"notifier_test_{uuid4().hex[:8]}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


async def test_bulk_claim_answers_like_one_claim_each(database: AsyncDatabase[Document]) -> None:
    ledger = MongoNotificationLedger(database["notifications"])
    assert await ledger.claim_many([]) == {}
    assert await ledger.claim("n-sent") is None
    await ledger.mark_sent("n-sent", "<m@x>")
    assert await ledger.claim("n-failed") is None
    await ledger.mark_failed("n-failed", "550")
    assert await ledger.claim("n-sending") is None

    answer = await ledger.claim_many(["n-new-1", "n-sent", "n-failed", "n-sending", "n-new-2"])
    assert answer == {
        "n-new-1": None,
        "n-new-2": None,
        "n-sent": LedgerEntry("sent", message_id="<m@x>"),
        "n-failed": LedgerEntry("failed", reason="550"),
        "n-sending": LedgerEntry("sending"),
    }
    # the new ones are claimed now: a second claim finds them
    assert await ledger.claim("n-new-1") == LedgerEntry("sending")


async def test_directory_reads_many_and_says_which_are_missing(
    database: AsyncDatabase[Document],
) -> None:
    accounts = database["accounts"]
    await accounts.insert_many([{"_id": a.account_id, **a.model_dump()} for a in DEMO_ACCOUNTS])
    directory = MongoAccountDirectory(accounts)
    known = DEMO_ACCOUNTS[0].account_id
    found = await directory.get_many([known, "acc-nobody"])
    assert found == {known: await directory.get(known), "acc-nobody": None}
    assert isinstance(found[known], AccountRecord)


async def test_a_requests_language_is_remembered_once(database: AsyncDatabase[Document]) -> None:
    locales = MongoRequestLocales(database["requests"])
    assert await locales.get_many([]) == {}
    await locales.remember({})
    await locales.remember({"T-1": "de", "T-2": "es"})
    await locales.remember({"T-1": "es"})  # a later write never changes the first
    assert await locales.get_many(["T-1", "T-2", "T-unknown"]) == {"T-1": "de", "T-2": "es"}


async def test_a_deferred_recovery_mail_comes_back_as_its_event(
    database: AsyncDatabase[Document],
) -> None:
    retries = MongoRetryQueue(database["retries"])
    event = AccountRecoveryRequested(
        account_id="acc-1001",
        correlation_id="c",
        recovery_id="r" * 22,
        expires_at=utcnow(),
        locale="es",
    )
    await retries.schedule(ScheduledRetry(f"{event.event_id}:account_recovery", event, 1), 0, "451")
    (due,) = await retries.take_due(10)
    assert due.source == event
    assert due.attempt == 1


async def test_marks_are_written_in_one_bulk_and_read_back(
    database: AsyncDatabase[Document],
) -> None:
    ledger = MongoNotificationLedger(database["notifications"])
    await ledger.claim_many(["n-1", "n-2", "n-3"])
    await ledger.mark_sent_many({})
    await ledger.mark_sent_many({"n-1": "<1@x>", "n-2": "<2@x>"})
    assert await ledger.claim_many(["n-1", "n-2", "n-3"]) == {
        "n-1": LedgerEntry("sent", message_id="<1@x>"),
        "n-2": LedgerEntry("sent", message_id="<2@x>"),
        "n-3": LedgerEntry("sending"),
    }


class AtOnceMailer:
    """Holds every mail until `count` are being sent, then accepts them all together: the
    senders' marks then meet at the ledger."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent: list[EmailMessage] = []
        self._arrived = 0
        self._all_there = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        self._arrived += 1
        if self._arrived >= self.count:
            self._all_there.set()
        await self._all_there.wait()
        self.sent.append(message)


async def test_mails_sent_at_once_share_their_marks_round_trips(infra: EmbeddedStack) -> None:
    """The store's round trips of a batch of 8 requests' acknowledgements sent 8 at once: the
    batch's three (languages, accounts, claims), then the first mark alone and the seven that
    arrived while it was written together: 5 for 8 mails (one mail at a time: 3 + 8)."""
    trips = RoundTrips()
    settings = NotifierSettings(
        mongo_url=infra.config.mongo_url, database=f"notifier_test_{uuid4().hex[:8]}"
    )
    mongo = create_mongo_client(settings, "notifier", listeners=[trips])
    wiring = wire(settings, mongo, create_broker(settings, "notifier"))
    mailer = AtOnceMailer(8)
    service = replace(
        wiring.service,
        mailer=mailer,
        publisher=FakePublisher(),
        dead_letters=FakeDeadLetters(),
        concurrency=8,
    )
    events = [
        TicketSubmitted(
            ticket_id=new_ticket_id(),
            account_id=("acc-1001", "acc-1002")[n % 2],
            correlation_id="c",
            category="cards",
            subject=f"Card {n}",
            description="My card has not arrived.",
        )
        for n in range(8)
    ]
    try:
        trips.take()
        await service.handle_records([record_of(e, n) for n, e in enumerate(events)])
        assert trips.take() == [
            "update requests",  # the new requests' languages
            "find accounts",  # the batch's directory records
            "insert notifications",  # the batch's claims
            "update notifications",  # the first mark
            "update notifications",  # the other seven, written together
        ]
        assert len(mailer.sent) == 8
    finally:
        await mongo.drop_database(settings.database)
        await mongo.close()
