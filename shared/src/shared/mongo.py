"""MongoDB helpers (PyMongo's async API, the successor of Motor): the client every service
creates the same way, its readiness probe, the account directory every service reads, and a
counter of the round trips a client makes (PyMongo's command monitoring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection

from shared.contracts.directory import ACCOUNTS_COLLECTION, DIRECTORY_DATABASE, AccountRecord
from shared.settings import ServiceSettings

Document = dict[str, Any]


class RoundTrips(monitoring.CommandListener):
    """The commands a client sends, in order: each is one round trip to the server (a bulk
    write of many operations is one; a cursor's next batch is a getMore). The store is the
    main cost on the embedded stack, so tests pin how many each operation makes."""

    def __init__(self) -> None:
        self.commands: list[str] = []  # "<command> <collection>", e.g. "find tickets"

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        where = f" {target}" if isinstance(target, str) else ""
        self.commands.append(f"{event.command_name}{where}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[str]:
        """The commands since the last take."""
        taken, self.commands = self.commands, []
        return taken


def create_mongo_client(
    settings: ServiceSettings,
    app_name: str,
    listeners: Sequence[monitoring.CommandListener] = (),
) -> AsyncMongoClient[Document]:
    timeout = settings.mongo_timeout_ms
    return AsyncMongoClient(
        settings.mongo_url.get_secret_value(),
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=max(timeout * 2, 10_000),
        retryWrites=True,
        event_listeners=list(listeners),
    )


async def mongo_is_ready(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True


class MongoAccountDirectory:
    """The account directory (the exchange's account service's collection): the only source
    of reply addresses and account kinds, looked up by account id."""

    def __init__(self, accounts: AsyncCollection[Document]) -> None:
        self._accounts = accounts

    @classmethod
    def of(cls, client: AsyncMongoClient[Document]) -> MongoAccountDirectory:
        return cls(client[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION])

    async def get(self, account_id: str) -> AccountRecord | None:
        document = await self._accounts.find_one({"_id": account_id})
        return AccountRecord.model_validate(document) if document else None

    async def find_by_email(self, email: str) -> AccountRecord | None:
        """The account whose sign-in address this is (the directory holds addresses
        lower-cased), or None."""
        document = await self._accounts.find_one({"email": email.strip().lower()})
        return AccountRecord.model_validate(document) if document else None

    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        """Every asked id, with its record or None when the directory has none."""
        found: dict[str, AccountRecord | None] = dict.fromkeys(account_ids)
        async for document in self._accounts.find({"_id": {"$in": list(account_ids)}}):
            found[document["_id"]] = AccountRecord.model_validate(document)
        return found
