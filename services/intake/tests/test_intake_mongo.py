"""The MongoDB and GridFS adapters against a real MongoDB-protocol server: the atomic
operations the use cases rely on hold under concurrency."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from uuid import uuid4

import pytest
from gridfs import AsyncGridFSBucket
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from intake.adapters.gridfs import GridFSAttachmentStore
from intake.adapters.mongo import MongoIdempotencyStore, MongoRateLimiter, MongoTicketStore
from intake.adapters.submission_gate import MongoSubmissionGate
from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import IdempotencyRecord, RecordState
from intake.domain.outbox import OutboxEntry, RecordChange, RecordedEvent
from intake.domain.submission_gate import (
    Admitted,
    GateRequest,
    GateState,
    Limited,
    admit,
    judge,
)
from shared.contracts.events import StatusChanged, StatusTransition, TicketSubmitted, utcnow
from shared.contracts.statuses import Status
from shared.mongo import Document

from .intake_samples import pdf

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(mongo: AsyncMongoClient[Document]) -> AsyncIterator[AsyncDatabase[Document]]:
    name = f"intake_adapters_{uuid4().hex[:10]}"
    yield mongo[name]
    await mongo.drop_database(name)


def _submitted() -> TicketSubmitted:
    return TicketSubmitted(
        ticket_id="AAAA-BBBB-CCCC",
        account_id="acc-1",
        correlation_id="c",
        category="cards",
        subject="s",
        description="d",
    )


def _status_event(to: Status) -> StatusChanged:
    return StatusChanged(
        ticket_id="AAAA-BBBB-CCCC",
        account_id="acc-1",
        correlation_id="c",
        actor_id="agent-1",
        actor_role="agent",
        status_change=StatusTransition(from_status=Status.NEW, to_status=to),
    )


async def test_a_status_change_and_its_event_are_written_together_once(
    db: AsyncDatabase[Document],
) -> None:
    store = MongoTicketStore(db["tickets"])
    await store.ensure_indexes()
    now = utcnow()
    submitted = _submitted()
    entry = OutboxEntry.of("tickets.submitted", submitted, now)
    assert await store.add(submitted, entry, {"ticket_id": submitted.ticket_id}, now)
    assert not await store.add(submitted, entry, {}, now)  # the same request again: refused
    solved, on_hold = _status_event(Status.SOLVED), _status_event(Status.ON_HOLD)
    results = await asyncio.gather(
        *(
            store.append(
                "AAAA-BBBB-CCCC",
                [(RecordedEvent.of(e), OutboxEntry.of("tickets.activity", e, now))],
                RecordChange(status=e.status_change),
                now,
            )
            for e in (solved, on_hold)
        )
    )
    assert sorted(results) == [False, True]  # both read "new": only one of them moves it
    winner = solved if results[0] else on_hold
    ticket = await store.get("AAAA-BBBB-CCCC")
    assert ticket is not None
    assert ticket.status is winner.status_change.to_status
    assert [e.event_id for e in ticket.outbox] == [str(submitted.event_id), str(winner.event_id)]
    assert ticket.recorded(str(winner.event_id)) == RecordedEvent.of(winner)
    # The same event twice is recorded once, whatever the status.
    again = RecordedEvent.of(winner)
    assert not await store.append(
        "AAAA-BBBB-CCCC", [(again, ticket.outbox[1])], RecordChange(), now
    )
    assert await store.get("ZZZZ-ZZZZ-ZZZZ") is None


async def test_the_outbox_empties_as_events_are_delivered_and_the_relay_leases_what_is_due(
    db: AsyncDatabase[Document],
) -> None:
    store = MongoTicketStore(db["tickets"])
    await store.ensure_indexes()
    now = utcnow()
    submitted = _submitted()
    await store.add(submitted, OutboxEntry.of("tickets.submitted", submitted, now), {}, now)
    later = now + timedelta(seconds=1)
    leased = await store.lease_due(later, later + timedelta(minutes=1), 10)
    assert [t.ticket_id for t in leased] == ["AAAA-BBBB-CCCC"]
    assert await store.lease_due(later, later + timedelta(minutes=1), 10) == []  # held
    await store.delivered({"AAAA-BBBB-CCCC": [str(submitted.event_id)]})
    ticket = await store.get("AAAA-BBBB-CCCC")
    assert ticket is not None
    assert ticket.outbox == ()
    raw = await db["tickets"].find_one({"_id": "AAAA-BBBB-CCCC"})
    assert raw is not None
    assert "outbox_due" not in raw  # nothing left for the relay to look at
    far = now + timedelta(hours=1)
    assert await store.lease_due(far, far, 10) == []


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


def _gate_request(
    now: datetime, fingerprint: str, key: str | None = None, limit: int = 3
) -> GateRequest:
    token = uuid4().hex
    return GateRequest(
        account_id="acc-1",
        token=token,
        key=key,
        fingerprint=fingerprint,
        plan={"ticket_id": f"T-{token[:6]}", "event_id": token},
        now=now,
        key_ttl=timedelta(days=1),
        duplicate_window=timedelta(minutes=10),
        limit=limit,
        window=timedelta(hours=1),
    )


async def test_the_gate_pipeline_does_what_the_pure_admit_does(
    db: AsyncDatabase[Document],
) -> None:
    """The one-write MongoDB form of `admit` against the pure one, over a day of requests:
    keys, keyless duplicates, the limit, slots and claims expiring."""
    gate = MongoSubmissionGate(db["submission_gates"])
    start = utcnow().replace(microsecond=0)  # BSON dates keep milliseconds
    steps = [
        (timedelta(0), "a", "k1"),
        (timedelta(seconds=1), "a", "k1"),  # the same key: recognised
        (timedelta(seconds=2), "a", None),  # keyless, same content: the keyed one's
        (timedelta(seconds=3), "b", "k1"),  # the key for other content
        (timedelta(seconds=4), "c", None),
        (timedelta(seconds=5), "d", None),
        (timedelta(seconds=6), "e", None),  # the fourth new one: limited
        (timedelta(minutes=11), "c", None),  # past the duplicate window, no slot free
        (timedelta(minutes=61), "c", None),  # an hour on: slots free, content new again
        (timedelta(days=1, minutes=1), "a", "k1"),  # the key expired: a new request
    ]
    expected, verdicts = GateState(), []
    for offset, fingerprint, key in steps:
        request = _gate_request(start + offset, fingerprint, key)
        expected = admit(expected, request)
        stored = await gate.admit(request)
        assert stored == expected
        verdicts.append(type(judge(stored, request)).__name__)
    assert verdicts == [
        "Admitted",
        "Existing",
        "Existing",
        "KeyReused",
        "Admitted",
        "Admitted",
        "Limited",
        "Limited",
        "Admitted",
        "Admitted",
    ]


async def test_the_gate_admits_no_more_than_the_limit_at_once(db: AsyncDatabase[Document]) -> None:
    gate = MongoSubmissionGate(db["submission_gates"])
    now = utcnow()
    requests = [_gate_request(now, f"f{n}", limit=5) for n in range(15)]

    async def judged(request: GateRequest) -> object:
        return judge(await gate.admit(request), request)

    verdicts = await asyncio.gather(*(judged(r) for r in requests))
    assert sum(isinstance(v, Admitted) for v in verdicts) == 5
    assert sum(isinstance(v, Limited) for v in verdicts) == 10
    admitted = next(r for r, v in zip(requests, verdicts, strict=True) if isinstance(v, Admitted))
    await gate.abandon("acc-1", admitted.token)
    doc = await db["submission_gates"].find_one({"_id": "acc-1"})
    assert doc is not None
    assert len(doc["slots"]) == 5
    assert [c["abandoned"] for c in doc["claims"] if c["token"] == admitted.token] == [True]
