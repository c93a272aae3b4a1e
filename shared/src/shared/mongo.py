"""MongoDB connection helper (PyMongo's async API, the successor of Motor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from shared.settings import ServiceSettings

Document = dict[str, Any]


def create_mongo_client(settings: ServiceSettings, app_name: str) -> AsyncMongoClient[Document]:
    timeout = settings.mongo_timeout_ms
    return AsyncMongoClient(
        settings.mongo_url.get_secret_value(),
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=max(timeout * 2, 10_000),
        retryWrites=True,
    )


async def mongo_is_ready(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True
