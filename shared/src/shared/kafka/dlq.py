"""Dead letters for operators: list what the consumers parked in `<topic>.dlq`, and re-drive
chosen ones onto their original topic after a fix.

    python -m shared.kafka.dlq list [--topic tickets.submitted]
    python -m shared.kafka.dlq redrive --topic tickets.submitted --offset 3:17 [--offset 42]
    python -m shared.kafka.dlq redrive --topic tickets.submitted --all

The listing never shows a payload (customer text, addresses): only where the message came
from, who parked it and why, its size and event type. A re-drive publishes the original key,
bytes and headers (without the x-dlq-* ones) plus `x-redrive-count`. When several consumer
groups parked the same message, it is re-driven once: every group reads it again, and the
ones that had processed it recognise it as already applied (every effect is idempotent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts.topics import DLQ_SUFFIX as _DLQ_SUFFIX
from shared.contracts.topics import Topics
from shared.kafka.records import REDRIVE_HEADER


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def topic(self) -> str:
        return self.headers.get("x-dlq-original-topic") or self.dlq_topic.removesuffix(_DLQ_SUFFIX)

    @property
    def partition(self) -> int:
        return _int(self.headers.get("x-dlq-original-partition"))

    @property
    def offset(self) -> int:
        return _int(self.headers.get("x-dlq-original-offset"))

    @property
    def origin(self) -> tuple[str, int, int]:
        """The original message; its DLQ position when the original is unknown (the
        notifier's retry loop parks messages outside any consumed record)."""
        if self.offset < 0:
            return self.dlq_topic, self.dlq_partition, self.dlq_offset
        return self.topic, self.partition, self.offset

    @property
    def event_type(self) -> str:
        if "event_type" in self.headers:
            return self.headers["event_type"]
        try:  # only this one field is read from the payload
            payload = json.loads(self.value)
        except ValueError:
            return "(not JSON)"
        return str(payload.get("event_type", "?")) if isinstance(payload, dict) else "?"

    def summary(self) -> dict[str, Any]:
        """What an operator sees: never the payload itself."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "service": self.headers.get("x-dlq-service", "?"),
            "error_type": self.headers.get("x-dlq-error-type", "?"),
            "error": self.headers.get("x-dlq-error", ""),
            "attempts": _int(self.headers.get("x-dlq-attempts")),
            "time": self.timestamp.isoformat(timespec="seconds"),
            "event_type": self.event_type,
            "size": len(self.value),
            "redrives": _int(self.headers.get(REDRIVE_HEADER)),
            "dlq": f"dlq:{self.dlq_partition}:{self.dlq_offset}",
        }

    def redrive_headers(self) -> list[tuple[str, bytes]]:
        original = {k: v for k, v in self.headers.items() if not k.startswith("x-dlq-")}
        original[REDRIVE_HEADER] = str(_int(self.headers.get(REDRIVE_HEADER)) + 1)
        return [(k, v.encode()) for k, v in original.items()]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return -1


def dlq_name(topic: str) -> str:
    return topic if topic.endswith(_DLQ_SUFFIX) else Topics.dlq(topic)


async def read_dead_letters(
    bootstrap: str, topics: Iterable[str] | None = None
) -> list[DeadLetter]:
    """Every dead letter now in the DLQs of `topics` (default: every `*.dlq` topic), read from
    the start to the current end without a consumer group (listing commits nothing)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        existing = await consumer.topics()
        wanted = (
            {dlq_name(t) for t in topics} & existing
            if topics
            else {t for t in existing if t.endswith(_DLQ_SUFFIX)}
        )
        partitions = [
            TopicPartition(t, p)
            for t in sorted(wanted)
            for p in consumer.partitions_for_topic(t) or ()
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[DeadLetter] = []
        while any([await consumer.position(p) < ends[p] for p in partitions]):
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for tp, records in batches.items():
                found += [_dead_letter(r) for r in records if r.offset < ends[tp]]
        return sorted(found, key=lambda d: (d.dlq_topic, d.timestamp, d.dlq_offset))
    finally:
        await consumer.stop()


def _dead_letter(record: Any) -> DeadLetter:
    return DeadLetter(
        dlq_topic=record.topic,
        dlq_partition=record.partition,
        dlq_offset=record.offset,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        value=record.value or b"",
        headers={k: v.decode(errors="replace") for k, v in record.headers},
    )


def select(
    letters: Iterable[DeadLetter], topic: str, offsets: Sequence[str] = (), *, every: bool = False
) -> list[DeadLetter]:
    """The dead letters of `topic` at the given original offsets ("17" or "partition:17") or
    DLQ positions ("dlq:partition:17", as listed), or all of them; one per original message,
    however many consumer groups parked it."""
    original = topic.removesuffix(_DLQ_SUFFIX)
    chosen: dict[tuple[str, int, int], DeadLetter] = {}
    for letter in letters:
        if letter.topic != original:
            continue
        if every or any(_matches(letter, spec) for spec in offsets):
            chosen.setdefault(letter.origin, letter)
    return list(chosen.values())


def _matches(letter: DeadLetter, spec: str) -> bool:
    if spec.startswith("dlq:"):
        return bool(spec == letter.summary()["dlq"])
    partition, _, offset = spec.rpartition(":")
    if partition and int(partition) != letter.partition:
        return False
    return int(offset) == letter.offset


async def redrive(
    bootstrap: str, letters: Sequence[DeadLetter], *, enable_idempotence: bool = False
) -> int:
    """Publish each letter's original key, bytes and headers onto its original topic."""
    if not letters:
        return 0
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=enable_idempotence
    )
    await producer.start()
    try:
        sent = [
            await producer.send(
                letter.topic, letter.value, key=letter.key, headers=letter.redrive_headers()
            )
            for letter in letters
        ]
        await asyncio.gather(*sent)  # every one acknowledged (acks=all)
    finally:
        await producer.stop()
    return len(letters)


COLUMNS = (
    "topic",
    "partition",
    "offset",
    "service",
    "error_type",
    "attempts",
    "time",
    "event_type",
    "size",
    "redrives",
    "dlq",
)


def format_table(letters: Sequence[DeadLetter], *, error_width: int = 60) -> str:
    if not letters:
        return "no dead letters"
    rows = [[str(letter.summary()[c]) for c in COLUMNS] for letter in letters]
    errors = [str(letter.summary()["error"])[:error_width] for letter in letters]
    header = [*COLUMNS, "error"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(COLUMNS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True))]
    for row, error in zip(rows, errors, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + "  " + error)
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.kafka.dlq",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    )
    parser.add_argument("--prefix", default="", help="the services' topic prefix")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list dead letters (never their payloads)")
    listing.add_argument("--topic", help="an original topic (or its .dlq); default: every DLQ")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    again = sub.add_parser("redrive", help="publish dead letters back onto their topic")
    again.add_argument("--topic", required=True)
    chosen = again.add_mutually_exclusive_group(required=True)
    chosen.add_argument(
        "--offset",
        action="append",
        default=[],
        help="original offset (17 or partition:17) or DLQ position (dlq:partition:17)",
    )
    chosen.add_argument("--all", action="store_true", help="every dead letter of the topic")
    again.add_argument(
        "--idempotent", action="store_true", help="idempotent producer (real Kafka; not Tansu)"
    )
    args = parser.parse_args(argv)

    def full(topic: str | None) -> str | None:
        if topic is None or topic.startswith(args.prefix):
            return topic
        return f"{args.prefix}{topic}"

    if args.command == "list":
        topic = full(args.topic)
        letters = asyncio.run(read_dead_letters(args.bootstrap_servers, [topic] if topic else None))
        if args.json:
            for letter in letters:
                print(json.dumps(letter.summary()))
        else:
            print(format_table(letters))
        return 0
    topic = full(args.topic)
    assert topic is not None
    letters = asyncio.run(read_dead_letters(args.bootstrap_servers, [topic]))
    picked = select(letters, topic, args.offset, every=args.all)
    if not picked:
        print(f"nothing to re-drive on {topic}", file=sys.stderr)
        return 1
    count = asyncio.run(redrive(args.bootstrap_servers, picked, enable_idempotence=args.idempotent))
    print(f"re-drove {count} message(s) onto {topic}")
    print(format_table(picked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
