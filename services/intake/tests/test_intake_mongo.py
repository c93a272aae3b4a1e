"""The MongoDB and GridFS adapters against a real MongoDB-protocol server: the atomic
operations the use cases rely on hold under concurrency."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import pytest
from gridfs import AsyncGridFSBucket
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from intake.adapters.gridfs import GridFSAttachmentStore
from intake.adapters.mongo import MongoIdempotencyStore, MongoRateLimiter, MongoTicketStore
from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import IdempotencyRecord, RecordState
from shared.contracts.events import TicketSubmitted, utcnow
from shared.contracts.statuses import Status
from shared.mongo import Document

from .intake_samples import pdf

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(mongo: AsyncMongoClient[Document]) -> AsyncIterator[AsyncDatabase[Document]]:
    name = f"intake_adapters_{uuid4().hex[:10]}"
    yield mongo[name]
    await mongo.drop_database(name)


async def test_status_compare_and_set_lets_one_of_two_pass(db: AsyncDatabase[Document]) -> None:
    store = MongoTicketStore(db["tickets"])
    await store.add(
        TicketSubmitted(
            ticket_id="AAAA-BBBB-CCCC",
            account_id="acc-1",
            correlation_id="c",
            category="cards",
            subject="s",
            description="d",
        )
    )
    results = await asyncio.gather(
        store.set_status("AAAA-BBBB-CCCC", Status.NEW, Status.SOLVED),
        store.set_status("AAAA-BBBB-CCCC", Status.NEW, Status.ON_HOLD),
    )
    assert sorted(results) == [False, True]
    ticket = await store.get("AAAA-BBBB-CCCC")
    assert ticket is not None
    assert ticket.status is (Status.SOLVED if results[0] else Status.ON_HOLD)
    assert await store.get("ZZZZ-ZZZZ-ZZZZ") is None


async def test_a_claim_is_won_once(db: AsyncDatabase[Document]) -> None:
    claims = MongoIdempotencyStore(db["idempotency"])
    await claims.ensure_indexes()
    now = utcnow()

    def record(token: str) -> IdempotencyRecord:
        return IdempotencyRecord(
            record_id="key:acc-1:x",
            fingerprint="f",
            token=token,
            state=RecordState.PENDING,
            lease_until=now + timedelta(minutes=1),
            expires_at=now + timedelta(days=1),
        )

    won = await asyncio.gather(*(claims.insert(record(f"t{n}")) for n in range(10)))
    assert won.count(True) == 1
    winner = f"t{won.index(True)}"
    assert not await claims.complete("key:acc-1:x", "someone-else", {}, now)
    assert await claims.complete("key:acc-1:x", winner, {"ticket_id": "T"}, now)
    stored = await claims.get("key:acc-1:x")
    assert stored is not None
    assert (stored.state, stored.response) == (RecordState.DONE, {"ticket_id": "T"})
    await claims.release("key:acc-1:x", "someone-else")  # not theirs: stays
    assert await claims.get("key:acc-1:x") is not None


async def test_the_rate_limiter_never_gives_more_slots_than_the_limit(
    db: AsyncDatabase[Document],
) -> None:
    limiter = MongoRateLimiter(db["rate_limits"], limit=5, window=timedelta(hours=1))
    decisions = await asyncio.gather(*(limiter.acquire("acc-1", f"s{n}") for n in range(15)))
    assert sum(d.allowed for d in decisions) == 5
    doc = await db["rate_limits"].find_one({"_id": "acc-1"})
    assert doc is not None
    assert len(doc["slots"]) == 5
    allowed = next(f"s{n}" for n, d in enumerate(decisions) if d.allowed)
    await limiter.release("acc-1", allowed)
    assert (await limiter.acquire("acc-1", "again")).allowed


async def test_gridfs_keeps_the_bytes_and_the_sniffed_type(db: AsyncDatabase[Document]) -> None:
    store = GridFSAttachmentStore(AsyncGridFSBucket(db, bucket_name="attachments"))
    data = pdf(b"x" * 600_000)  # three GridFS chunks
    ref = await store.save(
        "AAAA-BBBB-CCCC",
        "acc-1",
        CheckedFile(
            0,
            "a.pdf",
            "application/pdf",
            len(data),
            hashlib.sha256(data).hexdigest(),
            io.BytesIO(data),
        ),
    )
    stored = await store.open("AAAA-BBBB-CCCC", ref.attachment_id)
    assert stored is not None
    assert stored.ref == ref
    assert b"".join([chunk async for chunk in stored.chunks]) == data
    assert await store.open("ZZZZ-ZZZZ-ZZZZ", ref.attachment_id) is None  # not that ticket's
    await store.delete([ref.attachment_id, "att-unknown"])
    assert await store.open("AAAA-BBBB-CCCC", ref.attachment_id) is None
    assert await db["attachments.chunks"].count_documents({}) == 0
