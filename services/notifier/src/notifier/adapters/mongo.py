from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from notifier.domain.events import notifiable_event
from notifier.ports import LedgerEntry, ScheduledRetry
from shared.contracts.events import utcnow
from shared.mongo import Document

_DUPLICATE_KEY = 11000


class MongoNotificationLedger:
    """One document per notification id; the unique _id is what makes a claim exclusive."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._ledger = collection

    async def ensure_indexes(self) -> None:
        await self._ledger.create_index([("ticket_id", 1)])

    async def claim(
        self, notification_id: str, *, retake_failed: bool = False
    ) -> LedgerEntry | None:
        try:
            await self._ledger.insert_one(
                {"_id": notification_id, "state": "sending", "claimed_at": utcnow()}
            )
        except DuplicateKeyError:
            # A failed notification sent nothing, so trying it again cannot duplicate a mail;
            # only an operator's redrive does (python -m shared.kafka.dlq redrive).
            if retake_failed and await self._ledger.find_one_and_update(
                {"_id": notification_id, "state": "failed"},
                {"$set": {"state": "sending", "claimed_at": utcnow()}},
            ):
                return None
            existing = await self._ledger.find_one({"_id": notification_id})
            if existing is None:  # released between our insert and read: claim again
                return await self.claim(notification_id)
            return _entry(existing)
        return None

    async def claim_many(self, notification_ids: Sequence[str]) -> dict[str, LedgerEntry | None]:
        if not notification_ids:
            return {}
        now = utcnow()
        claims = [{"_id": i, "state": "sending", "claimed_at": now} for i in notification_ids]
        try:
            await self._ledger.insert_many(claims, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            taken = {notification_ids[e["index"]] for e in errors}
        else:
            taken = set()
        answer: dict[str, LedgerEntry | None] = {
            i: None for i in notification_ids if i not in taken
        }
        if taken:
            async for existing in self._ledger.find({"_id": {"$in": sorted(taken)}}):
                answer[existing["_id"]] = _entry(existing)
        return answer

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        await self._ledger.update_one(
            {"_id": notification_id},
            {"$set": {"state": "sent", "message_id": message_id, "sent_at": utcnow()}},
        )

    async def mark_sent_many(self, marks: Mapping[str, str]) -> None:
        if not marks:
            return
        now = utcnow()
        await self._ledger.bulk_write(
            [
                UpdateOne(
                    {"_id": notification_id},
                    {"$set": {"state": "sent", "message_id": message_id, "sent_at": now}},
                )
                for notification_id, message_id in marks.items()
            ],
            ordered=False,
        )

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        await self._ledger.update_one(
            {"_id": notification_id},
            {"$set": {"state": "failed", "reason": reason, "failed_at": utcnow()}},
        )

    async def release(self, notification_id: str) -> None:
        await self._ledger.delete_one({"_id": notification_id, "state": "sending"})


def _entry(document: Document) -> LedgerEntry:
    return LedgerEntry(
        state=document["state"],
        message_id=document.get("message_id"),
        reason=document.get("reason"),
    )


class MongoRetryQueue:
    """Due-time ordered retries; a lease makes each due retry one replica's at a time."""

    def __init__(self, collection: AsyncCollection[Document], lease_seconds: float = 60) -> None:
        self._retries = collection
        self._lease = timedelta(seconds=lease_seconds)

    async def ensure_indexes(self) -> None:
        await self._retries.create_index([("due_at", 1)])

    async def schedule(self, retry: ScheduledRetry, due_in_seconds: float, error: str) -> None:
        await self._retries.replace_one(
            {"_id": retry.notification_id},
            {
                "_id": retry.notification_id,
                "source": retry.source.model_dump(mode="json"),
                "attempt": retry.attempt,
                "due_at": utcnow() + timedelta(seconds=due_in_seconds),
                "leased_until": None,
                "last_error": error[:500],
            },
            upsert=True,
        )

    async def take_due(self, limit: int) -> list[ScheduledRetry]:
        taken: list[ScheduledRetry] = []
        now = utcnow()
        for _ in range(limit):
            document = await self._retries.find_one_and_update(
                {
                    "due_at": {"$lte": now},
                    "$or": [{"leased_until": None}, {"leased_until": {"$lt": now}}],
                },
                {"$set": {"leased_until": now + self._lease}},
                sort=[("due_at", 1)],
                return_document=ReturnDocument.AFTER,
            )
            if document is None:
                break
            taken.append(
                ScheduledRetry(
                    notification_id=document["_id"],
                    source=notifiable_event.validate_python(document["source"]),
                    attempt=document["attempt"],
                )
            )
        return taken

    async def done(self, notification_id: str) -> None:
        await self._retries.delete_one({"_id": notification_id})


class MongoRequestLocales:
    """One small document per request: `{_id: ticket id, locale}`, written when its submission
    arrives. The first write wins; a redelivered submission changes nothing."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._requests = collection

    async def remember(self, locales: Mapping[str, str]) -> None:
        if not locales:
            return
        now = utcnow()
        await self._requests.bulk_write(
            [
                UpdateOne(
                    {"_id": ticket_id},
                    {"$setOnInsert": {"locale": locale, "remembered_at": now}},
                    upsert=True,
                )
                for ticket_id, locale in locales.items()
            ],
            ordered=False,
        )

    async def get_many(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        if not ticket_ids:
            return {}
        found: dict[str, str] = {}
        async for document in self._requests.find({"_id": {"$in": list(ticket_ids)}}):
            found[document["_id"]] = document["locale"]
        return found
