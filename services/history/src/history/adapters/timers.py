"""The TimerStore port on MongoDB: one document per timer, `_id` = ticket id + the id of the
event it publishes (so a timer is the same timer however often the projection re-plans it).

Claiming is a conditional update on a free lease: MongoDB applies each document's update
atomically, so of two schedulers racing for a timer exactly one gets it; the other's update
does not match. A scheduler that dies holds its timers only until the lease runs out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DeleteMany, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from history.domain.clocks import Timer
from history.ports import ClaimedTimer
from shared.mongo import Document

FREE = datetime(1970, 1, 1, tzinfo=UTC)  # the lease of a timer nobody holds


def timer_id(ticket_id: str, timer: Timer) -> str:
    return f"{ticket_id}|{timer.event_id}"


class MongoTimerStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._timers = collection

    async def ensure_indexes(self) -> None:
        await self._timers.create_index([("fired", ASCENDING), ("due_at", ASCENDING)], name="due")
        await self._timers.create_index([("ticket_id", ASCENDING)], name="ticket")

    async def sync(
        self,
        plans: Mapping[str, Sequence[Timer]],
        before: Mapping[str, Sequence[Timer]] | None = None,
    ) -> None:
        operations: list[Any] = []
        for ticket_id, timers in plans.items():
            ids = [timer_id(ticket_id, t) for t in timers]
            known = before.get(ticket_id) if before is not None else None
            if known is None:  # what the store holds is not known: drop all but the plan
                operations.append(DeleteMany({"ticket_id": ticket_id, "_id": {"$nin": ids}}))
            elif dropped := sorted({timer_id(ticket_id, t) for t in known} - set(ids)):
                operations.append(DeleteMany({"_id": {"$in": dropped}}))
            operations += [
                UpdateOne(
                    {"_id": id_},
                    {
                        "$set": {"due_at": t.due_at},
                        "$setOnInsert": {
                            "ticket_id": ticket_id,
                            "key": t.key,
                            "event_id": str(t.event_id),
                            "fired": False,
                            "lease_until": FREE,
                            "owner": None,
                        },
                    },
                    upsert=True,
                )
                for id_, t in zip(ids, timers, strict=True)
            ]
        if operations:
            await self._timers.bulk_write(operations, ordered=False)

    async def claim(
        self, now: datetime, limit: int, lease: timedelta, owner: str
    ) -> list[ClaimedTimer]:
        # The due ones, from the index alone (SecantusDB scans the whole collection when a
        # filter has a field its index lacks, and the scheduler asks every second); the lease
        # is checked by the update, per document. Twice the batch: another replica's leased
        # timers at the head of the queue leave room for free ones.
        due = {"fired": False, "due_at": {"$lte": now}}
        cursor = self._timers.find(due, {"_id": 1}).sort([("due_at", ASCENDING)]).limit(2 * limit)
        ids = [d["_id"] async for d in cursor]
        if not ids:
            return []
        until = now + lease
        await self._timers.update_many(
            {"_id": {"$in": ids}, **due, "lease_until": {"$lte": now}},
            {"$set": {"lease_until": until, "owner": owner}},
        )
        held = self._timers.find({"_id": {"$in": ids}, "owner": owner, "fired": False})
        return [
            ClaimedTimer(
                timer_id=d["_id"],
                ticket_id=d["ticket_id"],
                key=d["key"],
                event_id=d["event_id"],
                due_at=d["due_at"].replace(tzinfo=UTC),
            )
            async for d in held
        ]

    async def finish(self, timer_ids: Sequence[str], owner: str, now: datetime) -> int:
        if not timer_ids:
            return 0
        result = await self._timers.update_many(
            {"_id": {"$in": list(timer_ids)}, "owner": owner},
            {"$set": {"fired": True, "fired_at": now, "lease_until": FREE}},
        )
        return result.modified_count

    async def reschedule(self, due: Mapping[str, datetime], owner: str) -> None:
        """Timers the plan has moved later than the store knew: due again then, lease free."""
        operations = [
            UpdateOne(
                {"_id": id_, "owner": owner},
                {"$set": {"due_at": at, "lease_until": FREE, "owner": None}},
            )
            for id_, at in due.items()
        ]
        if operations:
            await self._timers.bulk_write(operations, ordered=False)

    async def next_due(self) -> datetime | None:
        first = await self._timers.find_one({"fired": False}, sort=[("due_at", ASCENDING)])
        return first["due_at"].replace(tzinfo=UTC) if first else None

    async def count(self, **filter_: Any) -> int:
        """For operators and tests: timers matching `filter_` (e.g. fired=False)."""
        return await self._timers.count_documents(dict(filter_))
