from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from notifier.ports import LedgerEntry
from shared.directory import AccountRecord
from shared.events import utcnow
from shared.mongo import Document


class MongoAccountDirectory:
    def __init__(self, accounts: AsyncCollection[Document]) -> None:
        self._accounts = accounts

    async def get(self, account_id: str) -> AccountRecord | None:
        document = await self._accounts.find_one({"_id": account_id})
        return AccountRecord.model_validate(document) if document else None


class MongoNotificationLedger:
    """One document per notification id; the unique _id is what makes a claim exclusive."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._ledger = collection

    async def ensure_indexes(self) -> None:
        await self._ledger.create_index([("ticket_id", 1)])

    async def claim(self, notification_id: str) -> LedgerEntry | None:
        try:
            await self._ledger.insert_one(
                {"_id": notification_id, "state": "sending", "claimed_at": utcnow()}
            )
        except DuplicateKeyError:
            existing = await self._ledger.find_one({"_id": notification_id})
            if existing is None:  # released between our insert and read: claim again
                return await self.claim(notification_id)
            return LedgerEntry(
                state=existing["state"],
                message_id=existing.get("message_id"),
                reason=existing.get("reason"),
            )
        return None

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        await self._ledger.update_one(
            {"_id": notification_id},
            {"$set": {"state": "sent", "message_id": message_id, "sent_at": utcnow()}},
        )

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        await self._ledger.update_one(
            {"_id": notification_id},
            {"$set": {"state": "failed", "reason": reason, "failed_at": utcnow()}},
        )

    async def release(self, notification_id: str) -> None:
        await self._ledger.delete_one({"_id": notification_id, "state": "sending"})
