"""Helpers for the intake's tests over real HTTP: the server under test, reading its events,
and serving an in-process app built with test settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI, Request, Response

from devstack.stack import EmbeddedStack
from intake.app import build
from intake.settings import IntakeSettings
from shared.contracts.catalog import load_catalog
from shared.contracts.classification import CategoryScore, Classification, ClassifyRequest
from shared.http.app import ServiceApp
from shared.settings import DEVELOPMENT_CLASSIFY_TOKEN
from shared.waiting import wait_until

# The limits the tests exercise, pinned against anything exported in the environment.
PINNED = {
    "INTAKE_RATE_LIMIT_TICKETS": "20",
    "INTAKE_RATE_LIMIT_WINDOW_SECONDS": "3600",
    "INTAKE_DUPLICATE_WINDOW_SECONDS": "600",
    "INTAKE_MAX_ATTACHMENTS": "10",
    "INTAKE_MAX_ATTACHMENT_BYTES": str(10 * 1024 * 1024),
    "INTAKE_SUBJECT_MAX_LENGTH": "200",
    "INTAKE_DESCRIPTION_MIN_LENGTH": "10",
    "INTAKE_DESCRIPTION_MAX_LENGTH": "20000",
    "INTAKE_DATABASE": "intake",
    "INTAKE_SUGGESTION_TIMEOUT_SECONDS": "0.5",
    "INTAKE_SUGGESTION_RATE_LIMIT": "120",
    "INTAKE_RECOVERY_RATE_LIMIT_PER_ADDRESS": "3",
    "INTAKE_RECOVERY_RATE_LIMIT_PER_CLIENT": "1000",  # every test is the same client
    "INTAKE_RECOVERY_LINK_MINUTES": "30",
}


@dataclass(frozen=True)
class IntakeUnderTest:
    url: str
    host: str
    port: int
    stack: EmbeddedStack

    @property
    def kafka(self) -> str:
        return self.stack.config.kafka_bootstrap


async def events_of(
    server: IntakeUnderTest, topic: str, ticket_id: str, *, field: str = "ticket_id"
) -> list[dict[str, Any]]:
    """Every event of one ticket on `topic`, read to the end of the log as it is now. Intake
    answers only after Kafka acknowledged, so after a response this is exact: a count."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=server.kafka, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []

        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in partitions])

        while await behind():
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.offset >= ends[TopicPartition(record.topic, record.partition)]:
                        continue
                    event = json.loads(record.value or b"null")
                    if isinstance(event, dict) and event.get(field) == ticket_id:
                        found.append(event)
        return found
    finally:
        await consumer.stop()


def stub_router() -> FastAPI:
    """The router's POST /v1/classify as the intake sees it, answering from keywords: a real
    HTTP peer for the intake's client, with a slow answer on demand ("slowly" in the text)."""
    app = FastAPI()
    catalog = load_catalog()

    @app.post("/v1/classify")
    async def classify(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {DEVELOPMENT_CLASSIFY_TOKEN}":
            return Response(status_code=401)
        asked = ClassifyRequest.model_validate_json(await request.body())
        text = f"{asked.subject} {asked.description}".lower()
        if "slowly" in text:
            await asyncio.sleep(5)  # far beyond the intake's timeout: it must not wait
        category, documents = "technical", tuple[str, ...]()
        if "withdraw" in text:
            category = "withdrawals"
        elif "2fa" in text:
            category, documents = "disable-2fa", ("id-front", "selfie-with-id")
        found = catalog.category(category)
        assert found is not None
        answer = Classification(
            team=found.team,
            confidence=0.93,
            rule="id-documents-2fa" if documents else None,
            categories=(CategoryScore(id=found.id, label=found.label, probability=0.9),),
            documents=catalog.documents_of(documents),
            model_version="stub",
        )
        return Response(answer.model_dump_json(), media_type="application/json")

    return app


@contextlib.asynccontextmanager
async def serve_app(app: Any, host: str, port: int) -> AsyncIterator[str]:
    """Any ASGI app served by uvicorn on this event loop."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: _started(server, task), timeout=30, what="an in-process app")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def serve_in_process(settings: IntakeSettings) -> AsyncIterator[tuple[str, ServiceApp]]:
    """The intake app built in this process and served by uvicorn on this event loop, so a
    test can reach into it (swap a port's adapter) while talking real HTTP to it."""
    built = build(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            built.asgi,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: _started(server, task), timeout=30, what="the in-process intake")
        yield f"http://{settings.host}:{settings.port}", built
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raise what stopped it
        raise RuntimeError("the in-process intake stopped")
    return server.started


async def raw_exchange(
    server: IntakeUnderTest, head: bytes, body: bytes, *, timeout: float = 15
) -> tuple[int, bytes]:
    """Send `head` and `body` (possibly less than the declared length), then read the answer
    without sending more: the server must answer from what it has."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head + body)
        await writer.drain()
        head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head_bytes.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )
        answer = head_bytes + await asyncio.wait_for(reader.readexactly(length), timeout)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer
