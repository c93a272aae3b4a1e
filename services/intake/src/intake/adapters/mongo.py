"""Intake's MongoDB collections: its own record of each request (owner and current status, for
ownership checks and the status state machine), idempotency claims and rate-limit slots.

Everything that must hold across several intake replicas is decided by one atomic MongoDB
operation: an insert on a unique _id (a claim), or an update filtered on the value read
before (compare-and-set).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from intake.domain.idempotency import IdempotencyRecord, RecordState
from intake.domain.ratelimit import RateDecision, Slot, take_slot
from intake.ports import TicketRecord
from shared.contracts.events import TicketSubmitted, utcnow
from shared.contracts.statuses import Status
from shared.kafka.records import TransientError
from shared.mongo import Document


class MongoTicketStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._tickets = collection

    async def ensure_indexes(self) -> None:
        await self._tickets.create_index([("account_id", 1), ("created_at", -1)])

    async def add(self, ticket: TicketSubmitted) -> None:
        await self._tickets.insert_one(
            {
                "_id": ticket.ticket_id,
                "account_id": ticket.account_id,
                "category": ticket.category,
                "status": Status.NEW.value,
                "created_at": ticket.occurred_at,
            }
        )

    async def remove(self, ticket_id: str) -> None:
        await self._tickets.delete_one({"_id": ticket_id})

    async def get(self, ticket_id: str) -> TicketRecord | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        if doc is None:
            return None
        return TicketRecord(
            ticket_id=doc["_id"], account_id=doc["account_id"], status=Status(doc["status"])
        )

    async def set_status(self, ticket_id: str, expected: Status, new: Status) -> bool:
        result = await self._tickets.update_one(
            {"_id": ticket_id, "status": expected.value}, {"$set": {"status": new.value}}
        )
        return result.modified_count == 1


class MongoIdempotencyStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._records = collection

    async def ensure_indexes(self) -> None:
        # MongoDB removes a record once expires_at passes; correctness never waits for that
        # (an expired record is treated as absent), the index only keeps the collection small.
        await self._records.create_index("expires_at", expireAfterSeconds=0)

    @staticmethod
    def _document(record: IdempotencyRecord) -> Document:
        return {
            "_id": record.record_id,
            "fingerprint": record.fingerprint,
            "token": record.token,
            "state": record.state.value,
            "lease_until": record.lease_until,
            "expires_at": record.expires_at,
            "response": record.response,
        }

    async def insert(self, record: IdempotencyRecord) -> bool:
        try:
            await self._records.insert_one(self._document(record))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, record_id: str) -> IdempotencyRecord | None:
        doc = await self._records.find_one({"_id": record_id})
        if doc is None:
            return None
        return IdempotencyRecord(
            record_id=doc["_id"],
            fingerprint=doc["fingerprint"],
            token=doc["token"],
            state=RecordState(doc["state"]),
            lease_until=doc["lease_until"],
            expires_at=doc["expires_at"],
            response=doc.get("response"),
        )

    async def replace(self, record_id: str, old_token: str, record: IdempotencyRecord) -> bool:
        result = await self._records.replace_one(
            {"_id": record_id, "token": old_token}, self._document(record)
        )
        return result.modified_count == 1

    async def complete(
        self, record_id: str, token: str, response: dict[str, Any], expires_at: datetime
    ) -> bool:
        result = await self._records.update_one(
            {"_id": record_id, "token": token},
            {
                "$set": {
                    "state": RecordState.DONE.value,
                    "response": response,
                    "expires_at": expires_at,
                }
            },
        )
        return result.modified_count == 1

    async def release(self, record_id: str, token: str) -> None:
        await self._records.delete_one({"_id": record_id, "token": token})


class MongoRateLimiter:
    """One document per account holding its live slots and a version; a slot is taken by an
    update filtered on the version read (compare-and-set), so concurrent requests on any
    replica can never take more slots than the limit."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        limit: int,
        window: timedelta,
        max_attempts: int = 50,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._slots = collection
        self._limit = limit
        self._window = window
        self._max_attempts = max_attempts
        self._now = now

    async def ensure_indexes(self) -> None:
        await self._slots.create_index("expires_at", expireAfterSeconds=0)

    async def acquire(self, account_id: str, slot_id: str) -> RateDecision:
        for _ in range(self._max_attempts):
            # The time of this attempt: a slot records when it was really taken, however long
            # the contention before it lasted.
            now = self._now()
            doc = await self._slots.find_one({"_id": account_id})
            slots = [Slot(s["id"], s["at"]) for s in (doc or {}).get("slots", [])]
            decision = take_slot(
                slots, now=now, limit=self._limit, window=self._window, slot_id=slot_id
            )
            if not decision.allowed:
                return decision
            fields = {
                "slots": [{"id": s.slot_id, "at": s.taken_at} for s in decision.slots],
                "expires_at": now + self._window,
            }
            if doc is None:
                try:
                    await self._slots.insert_one({"_id": account_id, "version": 1, **fields})
                except DuplicateKeyError:
                    continue  # another request created it first: read again
                return decision
            result = await self._slots.update_one(
                {"_id": account_id, "version": doc["version"]},
                {"$set": fields, "$inc": {"version": 1}},
            )
            if result.modified_count == 1:
                return decision
            # Lost the race: back off a little so the contenders spread out, then re-read.
            await asyncio.sleep(random.uniform(0, 0.02))  # noqa: S311 - jitter, not crypto
        raise TransientError(f"rate limit of {account_id} too contended; retry")

    async def release(self, account_id: str, slot_id: str) -> None:
        await self._slots.update_one(
            {"_id": account_id}, {"$pull": {"slots": {"id": slot_id}}, "$inc": {"version": 1}}
        )
