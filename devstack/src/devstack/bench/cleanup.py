"""`--cleanup`: remove what one bench run created, and nothing of any other account.

In this order:

1. its accounts from the directory (`directory.accounts`): what the notifier still has to do
   for them becomes unsendable, so it drains fast and sends no more mail;
2. the notifier's scheduled retries of their notifications (they would come back later);
3. wait until the router, the notifier and history have no lag (`--cleanup-wait` at most), so
   no event still in flight re-creates what is removed next;
4. their requests from history (`history.requests`, by account_id and by the run's ticket
   ids), intake's records (`intake.tickets`, the idempotency claims and rate-limit slots whose
   ids hold the account), the notifier's ledger entries of their tickets (notification ids
   are `<event id>:<kind>` or `<ticket id>:<kind>`), their mails in the Maildir (every
   recipient a bench address) and the pass-through phase's topics.

The events stay on the Kafka topics (a log cannot drop some records): `make replay` would
project the bench's requests into history again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from devstack.bench.observers import MetricsSampler
from devstack.bench.workload import is_bench_account
from history.settings import HistorySettings
from intake.settings import IntakeSettings
from notifier.settings import NotifierSettings
from shared.contracts.directory import ACCOUNTS_COLLECTION, DIRECTORY_DATABASE, AccountRecord

CONSUMERS = ("router", "notifier", "history")
CHUNK = 1000  # ids per $in
HEADER_BYTES = 64 * 1024

Document = dict[str, Any]


@dataclass
class Created:
    """What a run put into the system, recorded as it goes (a failed run is cleaned up too)."""

    accounts: list[AccountRecord] = field(default_factory=list)  # through add_accounts
    tickets: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    topics: list[str] = field(default_factory=list)

    def add_accounts(self, accounts: Iterable[AccountRecord]) -> None:
        accounts = list(accounts)
        foreign = [a.account_id for a in accounts if not is_bench_account(a)]
        if foreign:  # the one guard that keeps the cleanup off real accounts
            raise ValueError(f"not bench accounts: {foreign}")
        self.accounts += accounts

    @property
    def account_ids(self) -> list[str]:
        return sorted({a.account_id for a in self.accounts})

    @property
    def addresses(self) -> set[str]:
        return {a.email.lower() for a in self.accounts if a.email}


@dataclass
class Removed:
    counts: dict[str, int] = field(default_factory=dict)
    drained: bool = True

    def add(self, what: str, count: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + count

    def summary(self) -> str:
        return ", ".join(f"{count} {what}" for what, count in self.counts.items())


def chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


async def delete_in(collection: AsyncCollection[Document], key: str, values: Iterable[str]) -> int:
    deleted = 0
    for chunk in chunks(sorted(set(values))):
        result = await collection.delete_many({key: {"$in": chunk}})
        deleted += result.deleted_count
    return deleted


async def ids_where(
    collection: AsyncCollection[Document], query: Document | None = None
) -> AsyncIterator[str]:
    async for document in collection.find(query or {}, {"_id": 1}):
        yield str(document["_id"])


def claim_owner(record_id: str) -> str:
    """The account of an intake idempotency claim: `key:<account>:<digest>` or
    `content:<account>:<fingerprint>` (an account id may itself hold colons)."""
    _, _, rest = record_id.partition(":")
    return rest.rpartition(":")[0]


def notification_source(notification_id: str) -> str:
    """`<event id>:<kind>` or `<ticket id>:<kind>` -> the event or ticket id."""
    return notification_id.rpartition(":")[0]


async def wait_drained(urls: Mapping[str, str], timeout: float) -> bool:
    """Until every consumer answers with no lag twice in a row, or `timeout` seconds."""
    sampler = MetricsSampler({n: urls[n] for n in CONSUMERS if n in urls})
    deadline = time.monotonic() + timeout
    quiet = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            sample = await sampler.scrape(client)
            idle = all(n in sample.rss and sample.lag.get(n, 0) == 0 for n in sampler.urls)
            quiet = quiet + 1 if idle else 0
            if quiet >= 2:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(1)


def remove_mails(maildir: Path, addresses: set[str]) -> int:
    """Files in the Maildir's new/ and cur/ whose every recipient is one of `addresses`."""
    parser = BytesHeaderParser(policy=compat32)
    removed = 0
    for sub in ("new", "cur"):
        folder = maildir / sub
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.is_file():
                    continue
                with contextlib.suppress(OSError):
                    with open(entry.path, "rb") as handle:
                        headers = parser.parsebytes(handle.read(HEADER_BYTES))
                    fields = headers.get_all("X-Envelope-To", []) + headers.get_all("To", [])
                    recipients = {a.lower() for _, a in getaddresses(fields) if a}
                    if recipients and recipients <= addresses:
                        os.unlink(entry.path)
                        removed += 1
    return removed


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> int:
    if not topics:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    except KafkaError:  # a broker without DeleteTopics keeps them: not worth failing over
        return 0
    finally:
        await admin.close()
    return len(topics)


async def cleanup(
    created: Created,
    *,
    mongo_url: str,
    kafka: str,
    maildir: Path | None,
    urls: Mapping[str, str],
    wait: float,
) -> Removed:
    removed = Removed()
    accounts = created.account_ids
    if not accounts and not created.topics:
        return removed
    history, intake, notifier = HistorySettings(), IntakeSettings(), NotifierSettings()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_url, serverSelectionTimeoutMS=10_000
    )
    try:
        directory = client[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION]
        retries = client[notifier.database]["retries"]  # notifier.app's collections
        ledger = client[notifier.database]["notifications"]
        requests = client[history.database][history.collection]
        tickets = client[intake.database]["tickets"]  # intake.app's collections
        claims = client[intake.database]["idempotency"]
        slots = client[intake.database]["rate_limits"]

        removed.add("accounts", await delete_in(directory, "_id", accounts))
        removed.add("retries", await delete_in(retries, "source.account_id", accounts))
        removed.drained = await wait_drained(urls, wait)
        removed.add("retries", await delete_in(retries, "source.account_id", accounts))

        ticket_ids = set(created.tickets)
        sources = set(created.event_ids)
        for chunk in chunks(accounts):
            query = {"account_id": {"$in": chunk}}
            async for doc in requests.find(query, {"_id": 1, "applied_event_ids": 1}):
                ticket_ids.add(str(doc["_id"]))
                sources.update(str(e) for e in doc.get("applied_event_ids") or ())
            ticket_ids.update([t async for t in ids_where(tickets, query)])
        sources |= ticket_ids

        count = await delete_in(requests, "account_id", accounts)
        count += await delete_in(requests, "_id", ticket_ids)  # any built before its owner
        removed.add("history requests", count)
        removed.add("intake tickets", await delete_in(tickets, "account_id", accounts))
        owned = set(accounts)
        stale = [i async for i in ids_where(claims) if claim_owner(i) in owned]
        removed.add("idempotency claims", await delete_in(claims, "_id", stale))
        removed.add("rate limits", await delete_in(slots, "_id", accounts))
        entries = [i async for i in ids_where(ledger) if notification_source(i) in sources]
        removed.add("ledger entries", await delete_in(ledger, "_id", entries))
    finally:
        await client.close()
    if maildir is not None:
        removed.add("mails", await asyncio.to_thread(remove_mails, maildir, created.addresses))
    removed.add("topics", await delete_topics(kafka, created.topics))
    return removed
