"""The projection store: one document per request, written in bulk with optimistic
concurrency (a version per document), so replicas consuming different topics never lose
each other's updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from history.domain.projection import RequestView, apply
from shared.events import Envelope
from shared.mongo import Document
from shared.statuses import Status

_DUPLICATE_KEY = 11000
MAX_CONFLICT_ROUNDS = 10


def to_document(view: RequestView) -> Document:
    document = view.model_dump(mode="python")
    document["_id"] = view.ticket_id
    document["status"] = view.status.value
    document["priority"] = view.priority.value
    document["public_status"] = view.public_status
    return document


def from_document(document: Document) -> RequestView:
    return RequestView.model_validate(document)


class MongoRequestRepository:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._requests = collection

    async def ensure_indexes(self) -> None:
        await self._requests.create_index([("account_id", ASCENDING), ("created_at", DESCENDING)])
        await self._requests.create_index([("account_id", ASCENDING), ("updated_at", DESCENDING)])
        await self._requests.create_index([("team", ASCENDING), ("status", ASCENDING)])

    async def apply_events(self, events: Sequence[Envelope]) -> int:
        """Fold the events into their requests; returns how many were new. Idempotent."""
        pending = list(events)
        applied = 0
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not pending:
                return applied
            new, pending = await self._apply_round(pending)
            applied += new
        raise RuntimeError(
            f"{len(pending)} events still conflict after {MAX_CONFLICT_ROUNDS} rounds"
        )

    async def _apply_round(self, events: list[Envelope]) -> tuple[int, list[Envelope]]:
        ids = sorted({e.ticket_id for e in events})
        stored = {
            d["_id"]: from_document(d) async for d in self._requests.find({"_id": {"$in": ids}})
        }
        views: dict[str, RequestView] = {}
        touched_by: dict[str, list[Envelope]] = {}
        applied = 0
        for event in events:
            current = views.get(event.ticket_id) or stored.get(event.ticket_id)
            updated = apply(current, event)
            if updated is None:
                continue
            views[event.ticket_id] = updated
            touched_by.setdefault(event.ticket_id, []).append(event)
            applied += 1
        if not views:
            return 0, []
        order = list(views)
        writes = []
        for ticket_id in order:
            base_version = stored[ticket_id].version if ticket_id in stored else 0
            view = views[ticket_id].model_copy(update={"version": base_version + 1})
            # Matches only the version we read; if someone wrote in between, the upsert
            # collides on _id and we redo this request's events on a fresh read.
            writes.append(
                ReplaceOne(
                    {"_id": ticket_id, "version": base_version}, to_document(view), upsert=True
                )
            )
        try:
            await self._requests.bulk_write(writes, ordered=False)
        except BulkWriteError as exc:
            conflicted = [
                order[e["index"]]
                for e in exc.details["writeErrors"]
                if e.get("code") == _DUPLICATE_KEY
            ]
            others = [e for e in exc.details["writeErrors"] if e.get("code") != _DUPLICATE_KEY]
            if others:
                raise
            retry = [e for tid in conflicted for e in touched_by[tid]]
            return applied - len(retry), retry
        return applied, []

    async def get(self, ticket_id: str) -> RequestView | None:
        document = await self._requests.find_one({"_id": ticket_id})
        return from_document(document) if document else None

    async def list_for_account(
        self,
        account_id: str,
        *,
        statuses: Sequence[Status] = (),
        limit: int = 20,
    ) -> list[RequestView]:
        query: dict[str, Any] = {"account_id": account_id}
        if statuses:
            query["status"] = {"$in": [s.value for s in statuses]}
        cursor = self._requests.find(query, {"timeline": 0, "applied_event_ids": 0})
        cursor = cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [from_document(d) async for d in cursor]
