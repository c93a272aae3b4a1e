"""Intake's own record of each request: owner and current status, for ownership checks."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection

from shared.events import TicketSubmitted
from shared.mongo import Document
from shared.statuses import Status


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
