"""The projection store against a real MongoDB wire protocol (embedded SecantusDB or a
testcontainers MongoDB)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from devstack.stack import EmbeddedStack
from history.adapters.mongo import MongoRequestRepository
from shared.mongo import Document
from shared.statuses import Status

from .test_history_projection import story

pytestmark = pytest.mark.integration


@pytest.fixture
async def repository(infra: EmbeddedStack) -> AsyncIterator[MongoRequestRepository]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.config.mongo_url, tz_aware=True)
    repository = MongoRequestRepository(client["history_test"][f"requests_{uuid4().hex[:8]}"])
    await repository.ensure_indexes()
    yield repository
    await client.close()


async def test_batch_apply_is_idempotent(repository: MongoRequestRepository) -> None:
    events = story()
    assert await repository.apply_events(events) == len(events)
    assert await repository.apply_events(events) == 0
    view = await repository.get(events[0].ticket_id)
    assert view is not None
    assert view.status is Status.SOLVED
    assert len(view.timeline) == len(events)
    assert view.version == 1


async def test_concurrent_writers_lose_nothing(repository: MongoRequestRepository) -> None:
    events = story()
    # two replicas applying different events of the same request at the same time
    await asyncio.gather(*(repository.apply_events([e]) for e in events))
    view = await repository.get(events[0].ticket_id)
    assert view is not None
    assert len(view.timeline) == len(events)
    assert view.status is Status.SOLVED


async def test_list_is_per_account_newest_first(repository: MongoRequestRepository) -> None:
    first, second, other = story(), story(), story()
    other = [e.model_copy(update={"account_id": "acc-1002"}) for e in other]
    await repository.apply_events(first + second + other)
    listed = await repository.list_for_account("acc-1001")
    assert {v.ticket_id for v in listed} == {first[0].ticket_id, second[0].ticket_id}
    assert await repository.list_for_account("acc-1001", statuses=[Status.OPEN]) == []
