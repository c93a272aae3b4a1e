"""Agents' transfers exported as labelled examples (`make corrections`): the masking (pure)
and the export from a real MongoDB projection, read back as the router's extra training data."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from devstack.stack import EmbeddedStack
from history.adapters.mongo import MongoRequestRepository
from history.corrections import export
from history.domain.corrections import COLUMNS, mask
from history.service import HistoryService
from history.settings import HistorySettings
from shared.mongo import Document

from .test_history_store import request, transferred


@pytest.mark.unit
def test_addresses_numbers_keys_and_the_name_are_masked() -> None:
    text = (
        "Hi, I am Alice Smith (alice.smith@example.com), my 2FA is fine, I sent 0.25 BTC to "
        "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh on 12.03, see https://example.com/tx/1"
    )
    masked = mask(text, ["Alice", "Smith"])
    assert masked == (
        "Hi, I am <name> <name> (<email>), my 2FA is fine, I sent <number> BTC to <id> on"
        " <number>, see <url>"
    )


@pytest.mark.integration
async def test_the_export_has_one_masked_row_per_moved_request(
    infra: EmbeddedStack, tmp_path: Path
) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.config.mongo_url, tz_aware=True)
    collection = f"requests_{uuid4().hex[:8]}"
    repository = MongoRequestRepository(client["history_test"][collection])
    moved = request("acc-1001", timedelta(0), "Card for Alice 4111", route_after=timedelta(1))
    kept = request("acc-1002", timedelta(0), "Stuck withdrawal", route_after=timedelta(1))
    try:
        events = [*moved, transferred(moved, "cards", timedelta(minutes=5)), *kept]
        await HistoryService(repository).apply_events(events)
        settings = HistorySettings(
            mongo_url=infra.config.mongo_url, database="history_test", collection=collection
        )
        output = tmp_path / "corrections.csv"
        assert await export(settings, output) == 1
    finally:
        await client["history_test"][collection].drop()
        await client.close()
    with output.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        [row] = list(reader)
    # acc-1001 is Alice in the seeded directory: her name is masked, as is the number
    assert row["text"] == "Card for <name> <number>\nsecret text"
    assert (row["team"], row["original_team"], row["transfers"]) == (
        "cards",
        "withdrawals-transfers",
        "1",
    )
    assert row["ticket_id"] == moved[0].ticket_id
