"""Intake's MongoDB collections: its own record of each request (owner and current status, for
ownership checks and the status state machine), idempotency claims and rate-limit slots.

Everything that must hold across several intake replicas is decided by one atomic MongoDB
operation: an insert on a unique _id (a claim), or an update filtered on the value read
before (compare-and-set).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from intake.domain.idempotency import IdempotencyRecord, RecordState
from intake.domain.outbox import RECORDED_EVENTS_KEPT, OutboxEntry, RecordChange, RecordedEvent
from intake.domain.ratelimit import RateDecision, Slot, take_slot
from intake.ports import TicketRecord
from shared.contracts.events import (
    RequestContent,
    RoutingDecision,
    TicketRouted,
    TicketSubmitted,
    utcnow,
)
from shared.contracts.statuses import Status
from shared.kafka.records import TransientError
from shared.mongo import Document


class MongoTicketStore:
    """Each request's record holds its recorded events and its outbox; every change is one
    atomic update of that one document, so a status change and the event that announces it
    are written together or not at all (no multi-document transaction needed)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._tickets = collection

    async def ensure_indexes(self) -> None:
        await self._tickets.create_index([("account_id", 1), ("created_at", -1)])
        # Only records with something left to publish carry outbox_due: the relay's query.
        await self._tickets.create_index("outbox_due", sparse=True)

    async def add(
        self,
        ticket: TicketSubmitted,
        entry: OutboxEntry,
        receipt: dict[str, Any],
        due_at: datetime,
    ) -> bool:
        try:
            await self._tickets.insert_one(
                {
                    "_id": ticket.ticket_id,
                    "account_id": ticket.account_id,
                    "category": ticket.category,
                    "status": Status.NEW.value,
                    "created_at": ticket.occurred_at,
                    "receipt": receipt,
                    "content": RequestContent(
                        category=ticket.category,
                        subject=ticket.subject,
                        description=ticket.description,
                        attachments=ticket.attachments,
                        locale=ticket.locale,
                        submitted_at=ticket.occurred_at,
                    ).model_dump(mode="json"),
                    "team": None,
                    "assignee": None,
                    "events": [RecordedEvent.of(ticket).to_document()],
                    "outbox": [_entry_document(entry)],
                    "outbox_due": due_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def get(self, ticket_id: str) -> TicketRecord | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        return _record(doc) if doc else None

    async def append(
        self,
        ticket_id: str,
        events: Sequence[tuple[RecordedEvent, OutboxEntry]],
        change: RecordChange,
        due_at: datetime,
    ) -> bool:
        first = events[0][0].event_id
        filter_: Document = {"_id": ticket_id, "events.event_id": {"$ne": first}}
        update: Document = {
            "$push": {
                "outbox": {"$each": [_entry_document(entry) for _, entry in events]},
                "events": {
                    "$each": [recorded.to_document() for recorded, _ in events],
                    "$slice": -RECORDED_EVENTS_KEPT,
                },
            },
            "$min": {"outbox_due": due_at},
        }
        changed: Document = {}
        if change.status is not None:
            filter_["status"] = change.status.from_status.value
            changed["status"] = change.status.to_status.value
        for field in ("team", "assignee"):
            pair = getattr(change, field)
            if pair is not None:
                filter_[field] = pair[0]
                changed[field] = pair[1]
        if changed:
            update["$set"] = changed
        result = await self._tickets.update_one(filter_, update)
        return result.modified_count == 1

    async def record_decisions(self, decisions: Sequence[TicketRouted]) -> None:
        if not decisions:
            return
        # The first decision places the request; one an agent has moved keeps its team,
        # whatever order the decision and the move arrive in ($ifNull: only what is unset).
        operations = [
            UpdateOne(
                {"_id": d.ticket_id},
                [
                    {
                        "$set": {
                            field: {"$ifNull": [f"${field}", {"$literal": value}]}
                            for field, value in (
                                ("decision", _decision_document(d)),
                                ("team", d.team),
                                ("routed_at", d.occurred_at),
                            )
                        }
                    }
                ],
            )
            for d in decisions
        ]
        await self._tickets.bulk_write(operations, ordered=False)

    async def delivered(self, deliveries: Mapping[str, Sequence[str]]) -> None:
        # One pipeline update per request, all in one bulk write: drop the entries, and the
        # due time with the last of them.
        if not deliveries:
            return
        operations = [
            UpdateOne(
                {"_id": ticket_id},
                [
                    {
                        "$set": {
                            "outbox": {
                                "$filter": {
                                    "input": "$outbox",
                                    "cond": {"$not": [{"$in": ["$$this.event_id", list(ids)]}]},
                                }
                            }
                        }
                    },
                    {
                        "$set": {
                            "outbox_due": {
                                "$cond": [
                                    {"$eq": [{"$size": "$outbox"}, 0]},
                                    "$$REMOVE",
                                    "$outbox_due",
                                ]
                            }
                        }
                    },
                ],
            )
            for ticket_id, ids in deliveries.items()
        ]
        await self._tickets.bulk_write(operations, ordered=False)

    async def lease_due(self, now: datetime, until: datetime, limit: int) -> list[TicketRecord]:
        leased: list[TicketRecord] = []
        for _ in range(limit):
            doc = await self._tickets.find_one_and_update(
                {"outbox_due": {"$lte": now}},
                {"$set": {"outbox_due": until}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            if not doc.get("outbox"):  # delivered meanwhile: nothing left to lease it for
                await self._tickets.update_one(
                    {"_id": doc["_id"], "outbox": {"$size": 0}}, {"$unset": {"outbox_due": ""}}
                )
                continue
            leased.append(_record(doc))
        return leased


def _decision_document(routed: TicketRouted) -> Document:
    fields = routed.model_dump(mode="json", include=set(RoutingDecision.model_fields))
    return RoutingDecision.model_validate(fields).model_dump(mode="json")


def _entry_document(entry: OutboxEntry) -> Document:
    return {
        "event_id": entry.event_id,
        "topic": entry.topic,
        "payload": entry.payload,
        "recorded_at": entry.recorded_at,
    }


def _record(doc: Document) -> TicketRecord:
    return TicketRecord(
        ticket_id=doc["_id"],
        account_id=doc["account_id"],
        status=Status(doc["status"]),
        events=tuple(RecordedEvent.from_document(e) for e in doc.get("events", ())),
        outbox=tuple(
            OutboxEntry(e["event_id"], e["topic"], e["payload"], e["recorded_at"])
            for e in doc.get("outbox", ())
        ),
        receipt=doc.get("receipt"),
        content=RequestContent.model_validate(doc["content"]) if doc.get("content") else None,
        team=doc.get("team"),
        decision=RoutingDecision.model_validate(doc["decision"]) if doc.get("decision") else None,
        routed_at=doc.get("routed_at"),
        assignee=doc.get("assignee"),
    )


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
            "plan": record.plan,
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
            plan=doc.get("plan"),
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

    async def abandon(self, record_id: str, token: str, lease_until: datetime) -> None:
        await self._records.update_one(
            {"_id": record_id, "token": token}, {"$set": {"lease_until": lease_until}}
        )


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
