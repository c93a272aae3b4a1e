"""Rebuild the My-activities projection from the event topics: `python -m history.replay`.

1. Capture the end offsets of every partition of the four event topics.
2. Fold every event from the earliest offset up to those ends into a fresh collection (with
   its indexes), through the same projection code the live consumer runs.
3. Swap it in atomically: `renameCollection` with `dropTarget`. The API and the live consumer
   address the collection by name, so they read and write the rebuilt one from then on.
4. Catch up: apply the events produced since step 1 (the live consumer may have put them into
   the old collection just before the swap). Applying is idempotent and concurrency-safe, so
   overlapping with the live consumer is harmless.

The live service keeps running throughout. The topics must still hold every event (retention
unlimited for the event topics), or the rebuilt projection misses what expired.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from uuid import uuid4

from pymongo import AsyncMongoClient

from history.adapters.event_log import KafkaEventLog, Offsets
from history.adapters.mongo import MongoRequestRepository
from history.service import HistoryService
from history.settings import HistorySettings
from shared.contracts.events import Envelope, any_event_adapter
from shared.kafka.records import InboundRecord
from shared.logging import configure_logging, get_logger
from shared.mongo import Document, create_mongo_client

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    collection: str
    records: int
    applied: int
    skipped: int  # records that are not events (the live consumer dead-lettered them)
    caught_up: int
    swapped: bool
    seconds: float


def decode(records: list[InboundRecord]) -> tuple[list[Envelope], int]:
    events: list[Envelope] = []
    for record in records:
        try:
            events.append(any_event_adapter.validate_json(record.value))
        except ValueError:
            log.warning("skipped a record that is not an event", **record.source)
    return events, len(records) - len(events)


async def _fold(
    log_reader: KafkaEventLog,
    projection: HistoryService,
    start: Offsets,
    end: Offsets,
) -> tuple[int, int, int]:
    records = applied = skipped = 0
    async for batch in log_reader.read(start, end):
        events, bad = decode(batch)
        records, skipped = records + len(batch), skipped + bad
        applied += await projection.apply_events(events)
    return records, applied, skipped


async def rebuild(
    settings: HistorySettings, *, swap: bool = True, target: str | None = None
) -> ReplayReport:
    """Rebuild into a fresh collection and, with `swap`, put it in place of the live one.
    `target` names the fresh collection (default: a unique name beside the live one)."""
    started = time.monotonic()
    client: AsyncMongoClient[Document] = create_mongo_client(settings, "history-replay")
    database = client[settings.database]
    fresh_name = target or f"{settings.collection}_rebuild_{uuid4().hex[:8]}"
    # Versions of rebuilt documents start above any a live document has reached (see
    # HistoryService), so a live write in flight during the swap cannot match one.
    fresh_store = MongoRequestRepository(database[fresh_name])
    fresh = HistoryService(fresh_store, version_floor=time.time_ns() // 1_000_000)
    try:
        await database.drop_collection(fresh_name)
        await fresh_store.ensure_indexes()
        async with KafkaEventLog(settings.kafka_bootstrap_servers) as events:
            partitions = await events.partitions(settings.topics.event_topics())
            start, end = await events.beginnings(partitions), await events.ends(partitions)
            records, applied, skipped = await _fold(events, fresh, start, end)
            log.info("projection rebuilt", collection=fresh_name, records=records, events=applied)
            caught_up = 0
            if swap:
                await client.admin.command(
                    "renameCollection",
                    f"{settings.database}.{fresh_name}",
                    to=f"{settings.database}.{settings.collection}",
                    dropTarget=True,
                )
                live = HistoryService(MongoRequestRepository(database[settings.collection]))
                later = await events.ends(partitions)
                more, caught_up, bad = await _fold(events, live, end, later)
                records, skipped = records + more, skipped + bad
                log.info("projection swapped in", collection=settings.collection, caught_up=more)
    finally:
        await client.close()
    return ReplayReport(
        collection=settings.collection if swap else fresh_name,
        records=records,
        applied=applied,
        skipped=skipped,
        caught_up=caught_up,
        swapped=swap,
        seconds=round(time.monotonic() - started, 3),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m history.replay",
        description="Rebuild the My-activities projection from the event topics and swap it "
        "in. Reads the HISTORY_* settings (Kafka, MongoDB, database, collection, prefix).",
    )
    parser.add_argument("--bootstrap-servers", help="default: HISTORY_KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--mongo-url", help="default: HISTORY_MONGO_URL")
    parser.add_argument(
        "--no-swap",
        action="store_true",
        help="build the fresh collection only, leave the live one alone",
    )
    parser.add_argument("--target", help="name of the fresh collection (with --no-swap)")
    args = parser.parse_args(argv)
    overrides: dict[str, str] = {}
    if args.bootstrap_servers:
        overrides["kafka_bootstrap_servers"] = args.bootstrap_servers
    if args.mongo_url:
        overrides["mongo_url"] = args.mongo_url
    settings = HistorySettings(**overrides)  # type: ignore[arg-type]
    configure_logging("history-replay", settings.effective_log_format, settings.log_level)
    report = asyncio.run(rebuild(settings, swap=not args.no_swap, target=args.target))
    print(
        f"{report.applied} events from {report.records} records into {report.collection}"
        f" ({report.skipped} skipped, {report.caught_up} caught up after the swap)"
        f" in {report.seconds}s"
    )


if __name__ == "__main__":
    main()
