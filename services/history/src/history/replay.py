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
import logging
import os
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

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
    # The same time rules as the live projection: the rebuilt views carry the same clocks.
    # Timers are left to the live projection (they follow from the same events).
    fresh = HistoryService(
        fresh_store, version_floor=time.time_ns() // 1_000_000, rules=settings.time_rules()
    )
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


def stack_addresses(
    env: Mapping[str, str] = os.environ, only: Collection[str] | None = None
) -> dict[str, str]:
    """Where `make run` puts Kafka and MongoDB: 127.0.0.1 on KAFKA_PORT (9092) and MONGO_PORT
    (27017), as devstack.stack.StackPorts.from_env and StackConfig derive them (a test holds
    the two to the same result; a service does not import the development stack). `only`:
    the settings wanted (a port variable no one needs is not checked)."""

    def port(name: str, default: str) -> int:
        value = env.get(name) or default
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ReplayError(f"{name} must be a port number, not {value!r}")
        return int(value)

    wanted = {"kafka_bootstrap_servers", "mongo_url"} if only is None else set(only)
    addresses: dict[str, str] = {}
    if "kafka_bootstrap_servers" in wanted:
        addresses["kafka_bootstrap_servers"] = f"127.0.0.1:{port('KAFKA_PORT', '9092')}"
    if "mongo_url" in wanted:
        mongo = port("MONGO_PORT", "27017")
        addresses["mongo_url"] = f"mongodb://127.0.0.1:{mongo}/?directConnection=true"
    return addresses


class ReplayError(RuntimeError):
    """What stops a replay, said in one line (no traceback)."""


def resolve_settings(
    bootstrap_servers: str | None = None,
    mongo_url: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> HistorySettings:
    """The command line, else the HISTORY_* settings, else `make run`'s stack."""
    try:
        configured = HistorySettings()
        unset = {"kafka_bootstrap_servers", "mongo_url"} - configured.model_fields_set
        if bootstrap_servers:
            unset.discard("kafka_bootstrap_servers")
        if mongo_url:
            unset.discard("mongo_url")
        overrides: dict[str, Any] = stack_addresses(env, unset)
        if bootstrap_servers:
            overrides["kafka_bootstrap_servers"] = bootstrap_servers
        if mongo_url:
            overrides["mongo_url"] = mongo_url
        return HistorySettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"HISTORY_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ReplayError(f"invalid settings: {problems}") from exc


def mongo_hosts(url: str) -> str:
    """The hosts of a MongoDB URL, without its credentials or options (nor a DNS lookup)."""
    _, _, rest = url.partition("://")
    return rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2] or "(no host in the URL)"


@contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """aiokafka logs every failed connection attempt; the replay says it once itself."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def check_reachable(settings: HistorySettings) -> None:
    """Both stores answer, before anything is written (a fresh collection included)."""
    mongo = mongo_hosts(settings.mongo_url.get_secret_value())
    client: AsyncMongoClient[Document] = create_mongo_client(settings, "history-replay")
    try:
        await client.admin.command("ping")
    except PyMongoError as exc:
        raise ReplayError(
            f"cannot reach MongoDB at {mongo} within {settings.mongo_timeout_ms / 1000:g} s"
            f" ({type(exc).__name__}); is `make run` up? Set MONGO_PORT (or HISTORY_MONGO_URL)"
        ) from exc
    finally:
        await client.close()
    kafka = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(
        bootstrap_servers=kafka, request_timeout_ms=settings.kafka_request_timeout_ms
    )
    try:
        with quiet_kafka_client():
            try:
                await admin.start()
                await admin.list_topics()
            finally:
                await admin.close()
    except (KafkaError, OSError) as exc:
        raise ReplayError(
            f"cannot reach Kafka at {kafka} ({type(exc).__name__}); is `make run` up?"
            " Set KAFKA_PORT (or HISTORY_KAFKA_BOOTSTRAP_SERVERS)"
        ) from exc


async def replay(settings: HistorySettings, *, swap: bool, target: str | None) -> ReplayReport:
    await check_reachable(settings)
    try:
        return await rebuild(settings, swap=swap, target=target)
    except (ConnectionFailure, KafkaConnectionError, KafkaTimeoutError) as exc:
        raise ReplayError(f"lost a connection during the replay: {type(exc).__name__}") from exc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m history.replay",
        description="Rebuild the My-activities projection from the event topics and swap it "
        "in. Reads the HISTORY_* settings (Kafka, MongoDB, database, collection, prefix); "
        "without HISTORY_KAFKA_BOOTSTRAP_SERVERS / HISTORY_MONGO_URL, the stack `make run` "
        "started: 127.0.0.1 on KAFKA_PORT (9092) and MONGO_PORT (27017).",
    )
    parser.add_argument(
        "--bootstrap-servers",
        help="default: HISTORY_KAFKA_BOOTSTRAP_SERVERS, else 127.0.0.1:$KAFKA_PORT",
    )
    parser.add_argument(
        "--mongo-url", help="default: HISTORY_MONGO_URL, else 127.0.0.1:$MONGO_PORT"
    )
    parser.add_argument(
        "--no-swap",
        action="store_true",
        help="build the fresh collection only, leave the live one alone",
    )
    parser.add_argument("--target", help="name of the fresh collection (with --no-swap)")
    args = parser.parse_args(argv)
    try:
        settings = resolve_settings(args.bootstrap_servers, args.mongo_url)
        configure_logging("history-replay", settings.effective_log_format, settings.log_level)
        report = asyncio.run(replay(settings, swap=not args.no_swap, target=args.target))
    except ReplayError as exc:
        sys.exit(f"history.replay: {exc}")
    print(
        f"{report.applied} events from {report.records} records into {report.collection}"
        f" ({report.skipped} skipped, {report.caught_up} caught up after the swap)"
        f" in {report.seconds}s"
    )


if __name__ == "__main__":
    main()
