"""Recovery grants in MongoDB: one document per link, claimed by one filtered update so that
two submissions racing with the same link (two tabs, two replicas) file one request."""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection

from intake.domain.recovery import RecoveryGrant
from shared.mongo import Document

# A used or expired grant is kept this long after it expired (what happened to a link can
# still be looked up), then MongoDB removes it.
KEPT_AFTER_EXPIRY = timedelta(days=7)


class MongoRecoveryStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._grants = collection

    async def ensure_indexes(self) -> None:
        await self._grants.create_index(
            "expires_at", expireAfterSeconds=int(KEPT_AFTER_EXPIRY.total_seconds())
        )

    async def add(self, grant: RecoveryGrant) -> None:
        await self._grants.insert_one(
            {
                "_id": grant.recovery_id,
                "account_id": grant.account_id,
                "created_at": grant.created_at,
                "expires_at": grant.expires_at,
                "claimed_at": None,
                "ticket_id": None,
            }
        )

    async def get(self, recovery_id: str) -> RecoveryGrant | None:
        doc = await self._grants.find_one({"_id": recovery_id})
        if doc is None:
            return None
        return RecoveryGrant(
            recovery_id=doc["_id"],
            account_id=doc["account_id"],
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
            claimed_at=doc.get("claimed_at"),
            ticket_id=doc.get("ticket_id"),
        )

    async def claim(self, recovery_id: str, now: datetime, lease: timedelta) -> bool:
        result = await self._grants.update_one(
            {
                "_id": recovery_id,
                "ticket_id": None,
                "expires_at": {"$gt": now},
                "$or": [{"claimed_at": None}, {"claimed_at": {"$lte": now - lease}}],
            },
            {"$set": {"claimed_at": now}},
        )
        return result.modified_count == 1

    async def complete(self, recovery_id: str, ticket_id: str) -> None:
        await self._grants.update_one({"_id": recovery_id}, {"$set": {"ticket_id": ticket_id}})

    async def release(self, recovery_id: str) -> None:
        await self._grants.update_one(
            {"_id": recovery_id, "ticket_id": None}, {"$set": {"claimed_at": None}}
        )
