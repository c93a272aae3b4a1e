"""History service: `uvicorn history.app:create_app --factory`."""

from __future__ import annotations

import re

from faststream_fastapi import FastStreamAPI
from starlette.types import Scope

from history.adapters.intake_client import HttpIntakeGateway
from history.adapters.mongo import MongoRequestRepository
from history.adapters.timers import MongoTimerStore
from history.api import router as api_router
from history.pages import router as page_router
from history.service import HistoryService
from history.settings import HistorySettings
from shared.contracts.catalog import load_catalog
from shared.contracts.events import AnyEvent, any_event_adapter
from shared.http.app import ServiceApp, build_app, kafka_is_ready, service_lifespan
from shared.kafka.broker import batch_subscriber, create_broker
from shared.kafka.dead_letters import KafkaDeadLetters
from shared.kafka.records import InboundRecord, decode_batch
from shared.metrics import ServiceMetrics
from shared.mongo import create_mongo_client, mongo_is_ready

SERVICE = "history"


# The pages' forms that carry files: their body may be as large as the intake allows.
_UPLOAD_PAGES = re.compile(
    r"^(/requests/new|/my-activities/[A-Z0-9-]{14}/documents|/account-recovery/[^/]+)$"
)


def page_body_cap(scope: Scope, settings: HistorySettings) -> int:
    if scope["method"] == "POST" and _UPLOAD_PAGES.fullmatch(scope["path"]):
        return settings.page_upload_max_bytes
    return settings.max_body_bytes


def create_app() -> FastStreamAPI:
    return build(HistorySettings()).asgi


def build(settings: HistorySettings) -> ServiceApp:
    topics = settings.topics
    mongo = create_mongo_client(settings, SERVICE)
    repository = MongoRequestRepository(mongo[settings.database][settings.collection])
    timers = MongoTimerStore(mongo[settings.database][settings.timers_collection])
    catalog = load_catalog(settings.catalog_path)
    service = HistoryService(
        repository, teams=catalog.teams, rules=settings.time_rules(), timers=timers
    )
    intake = HttpIntakeGateway(settings.intake_url, timeout_seconds=settings.intake_timeout_seconds)
    metrics = ServiceMetrics(SERVICE)
    broker = create_broker(
        settings, SERVICE, description="Builds the My-activities projection", metrics=metrics
    )
    dead_letters = KafkaDeadLetters(broker, SERVICE)

    # One consumer over the four topics: one group join at start, one batch loop.
    @batch_subscriber(
        broker,
        *topics.event_topics(),
        group_id=SERVICE,
        title="project-events",
        settings=settings,
        payload=AnyEvent,
        description="Every event of a request, folded into its My-activities view",
    )
    async def project(records: list[InboundRecord]) -> None:
        events = await decode_batch(records, any_event_adapter, dead_letters)
        await service.apply_events(events)

    built = build_app(
        service=SERVICE,
        title="Help Centre history",
        description="My activities: each customer's requests, statuses and timelines; "
        "aggregates for dashboards; the pages for people: /my-activities, /requests/new,"
        " /account-recovery.",
        settings=settings,
        broker=broker,
        lifespan=service_lifespan(
            setup=[repository.ensure_indexes, timers.ensure_indexes],
            close=[mongo.close, intake.close],
        ),
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        routers=(api_router, page_router),
        metrics=metrics,
        body_cap=lambda scope: page_body_cap(scope, settings),
    )
    built.http.state.history_service = service
    built.http.state.intake_gateway = intake
    built.http.state.catalog = catalog
    return built
