"""The notifier's MongoDB adapters against a real MongoDB wire protocol (embedded SecantusDB
or a testcontainers MongoDB): the batch's bulk claim and directory read, the requests'
languages, a deferred recovery mail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devstack.stack import EmbeddedStack
from notifier.adapters.mongo import MongoNotificationLedger, MongoRequestLocales, MongoRetryQueue
from notifier.ports import LedgerEntry, ScheduledRetry
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord
from shared.contracts.events import AccountRecoveryRequested, utcnow
from shared.mongo import Document, MongoAccountDirectory

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
