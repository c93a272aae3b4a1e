"""Where the benchmark watches each request arrive, one watcher per stage, each running for
the whole benchmark and stamping the first arrival of every ticket id (wall clock):

- team topic: a consumer on every `team.<team>` partition, stamped on receipt;
- history: the projection in MongoDB, polled for pending tickets that have their team;
- e-mail: the Maildir, stamped with each file's modification time (the delivery itself);
- metrics: every service's /metrics each second (RSS, messages consumed, lag).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from shared.waiting import wait_until

SUBJECT = re.compile(rb"^Subject:[^\n]*?([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})", re.MULTILINE)


class TeamTopicWatcher:
    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.arrived: dict[str, float] = {}
        self._bootstrap = bootstrap
        self._topics = topics
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        await consumer.start()
        self._consumer = consumer

        async def metadata() -> list[TopicPartition] | None:
            await consumer.topics()
            found = [
                TopicPartition(topic, p)
                for topic in self._topics
                for p in consumer.partitions_for_topic(topic) or ()
            ]
            return found if {tp.topic for tp in found} == set(self._topics) else None

        partitions = await wait_until(metadata, timeout=30, what="the team topics")
        consumer.assign(partitions)
        await consumer.seek_to_end()
        for tp in partitions:  # resolve the end offsets now, before any load is sent
            await consumer.position(tp)

    async def run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    if record.key:
                        self.arrived.setdefault(record.key.decode(), now)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


class HistoryWatcher:
    """Polls `history.requests` for the oldest pending tickets (the projection applies them
    roughly in order); a ticket is visible once the customer's list would show its team."""

    def __init__(self, mongo_url: str, database: str = "history", collection: str = "requests"):
        self.arrived: dict[str, float] = {}
        self.poll_seconds = 0.05
        self._pending: deque[str] = deque()
        self._client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
        self._collection = self._client[database][collection]

    def expect(self, ticket_ids: list[str]) -> None:
        self._pending.extend(ticket_ids)

    async def run(self, chunk: int = 1000) -> None:
        while True:
            window = [self._pending[i] for i in range(min(chunk, len(self._pending)))]
            if window:
                query = {"_id": {"$in": window}, "team": {"$ne": None}}
                found = await self._collection.find(query, {"_id": 1}).to_list(None)
                now = time.time()
                seen = {str(d["_id"]) for d in found}
                for ticket_id in seen:
                    self.arrived.setdefault(ticket_id, now)
                if seen:
                    self._pending = deque(t for t in self._pending if t not in seen)
            await asyncio.sleep(self.poll_seconds)

    async def stop(self) -> None:
        await self._client.close()


class MaildirWatcher:
    def __init__(self, maildir: Path) -> None:
        self.arrived: dict[str, float] = {}
        self._new = maildir / "new"
        self._seen: set[str] = set()

    def skip_existing(self) -> None:
        if self._new.is_dir():
            self._seen.update(os.listdir(self._new))

    def scan(self) -> None:
        if not self._new.is_dir():
            return
        with os.scandir(self._new) as entries:
            for entry in entries:
                if entry.name in self._seen:
                    continue
                self._seen.add(entry.name)
                with contextlib.suppress(OSError):
                    delivered = entry.stat().st_mtime
                    with open(entry.path, "rb") as handle:
                        match = SUBJECT.search(handle.read(8192))
                    if match:
                        self.arrived.setdefault(match.group(1).decode(), delivered)

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.scan)
            await asyncio.sleep(0.2)


@dataclass
class Sample:
    at: float
    rss: dict[str, float]  # bytes, by service
    consumed: dict[str, float]  # messages received so far, by service
    lag: dict[str, float]  # records behind, by service


@dataclass
class MetricsSampler:
    """Reads every service's /metrics once a second: memory under load, consumption rates and
    lag, from the same series an operator's Prometheus scrapes."""

    urls: dict[str, str]
    samples: list[Sample] = field(default_factory=list)

    async def scrape(self, client: httpx.AsyncClient) -> Sample:
        rss: dict[str, float] = {}
        consumed: dict[str, float] = {}
        lag: dict[str, float] = {}
        for service, url in self.urls.items():
            try:
                response = await client.get(f"{url}/metrics")
                response.raise_for_status()
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(response.text):
                for s in family.samples:
                    if s.name == "process_resident_memory_bytes":
                        rss[service] = s.value
                    elif s.name == "faststream_received_messages_total":
                        consumed[service] = consumed.get(service, 0.0) + s.value
                    elif s.name == "helpdesk_consumer_lag":
                        lag[service] = lag.get(service, 0.0) + s.value
        return Sample(time.time(), rss, consumed, lag)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                started = time.monotonic()
                self.samples.append(await self.scrape(client))
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    def peak_rss(self) -> dict[str, float]:
        peak: dict[str, float] = {}
        for sample in self.samples:
            for service, value in sample.rss.items():
                peak[service] = max(peak.get(service, 0.0), value)
        return peak

    def peak_rate(self, services: tuple[str, ...], since: float, window: float = 5.0) -> float:
        """The highest messages/s the services together consumed over `window` seconds."""
        points = [
            (s.at, sum(s.consumed.get(name, 0.0) for name in services))
            for s in self.samples
            if s.at >= since and all(name in s.consumed for name in services)
        ]
        best = 0.0
        start = 0
        for end in range(len(points)):
            while points[end][0] - points[start][0] > window:
                start += 1
            span = points[end][0] - points[start][0]
            if span >= window * 0.8:
                best = max(best, (points[end][1] - points[start][1]) / span)
        return best
