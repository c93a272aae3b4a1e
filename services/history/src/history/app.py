"""History service: `uvicorn history.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream_fastapi import FastStreamAPI

from history.adapters.mongo import MongoRequestRepository
from history.api import router as api_router
from history.settings import HistorySettings
from history.web import router as page_router
from shared.events import any_event_adapter
from shared.kafka import (
    KafkaDeadLetters,
    consumer_options,
    create_broker,
    current_records,
    decode_batch,
    raw_body,
)
from shared.metrics import ServiceMetrics
from shared.mongo import create_mongo_client, mongo_is_ready
from shared.service import ServiceApp, build_app, kafka_is_ready

SERVICE = "history"


def create_app() -> FastStreamAPI:
    return build(HistorySettings()).asgi


def build(settings: HistorySettings) -> ServiceApp:
    topics = settings.topics
    mongo = create_mongo_client(settings, SERVICE)
    repository = MongoRequestRepository(mongo[settings.database][settings.collection])
    metrics = ServiceMetrics(SERVICE)
    broker = create_broker(
        settings, SERVICE, description="Builds the My-activities projection", metrics=metrics
    )
    dead_letters = KafkaDeadLetters(broker, SERVICE)

    # One consumer over the four topics: one group join at start, one batch loop.
    @broker.subscriber(
        *topics.event_topics(),
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        decoder=raw_body,
        title="project-events",
        **consumer_options(SERVICE),
    )
    async def project(_: list[bytes]) -> None:
        events = await decode_batch(current_records(), any_event_adapter, dead_letters)
        await repository.apply_events(events)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await repository.ensure_indexes()
        yield
        await mongo.close()

    built = build_app(
        service=SERVICE,
        title="Help Centre history",
        description="My activities: each customer's requests, statuses and timelines; "
        "aggregates for dashboards; the My-activities page at /my-activities.",
        settings=settings,
        broker=broker,
        lifespan=lifespan,
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        routers=(api_router, page_router),
        metrics=metrics,
    )
    built.http.state.repository = repository
    return built
