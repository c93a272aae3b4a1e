"""Intake service: `uvicorn intake.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream_fastapi import FastStreamAPI

from intake.adapters.mongo import MongoTicketStore
from intake.api import router as api_router
from intake.domain.submission import SubmissionLimits
from intake.service import IntakeService
from intake.settings import IntakeSettings
from shared.catalog import load_catalog
from shared.kafka import KafkaEventPublisher, create_broker
from shared.mongo import create_mongo_client, mongo_is_ready
from shared.service import ServiceApp, build_app, kafka_is_ready

SERVICE = "intake"


def create_app() -> FastStreamAPI:
    return build(IntakeSettings()).asgi


def build(settings: IntakeSettings) -> ServiceApp:
    mongo = create_mongo_client(settings, SERVICE)
    store = MongoTicketStore(mongo[settings.database]["tickets"])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.ensure_indexes()
        yield
        await mongo.close()

    broker = create_broker(
        settings, SERVICE, description="Publishes customers' requests and agents' actions"
    )
    built = build_app(
        service=SERVICE,
        title="Help Centre intake",
        description="The only write entrance: customers submit requests, agents reply.",
        settings=settings,
        broker=broker,
        lifespan=lifespan,
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        routers=(api_router,),
    )
    built.http.state.intake_service = IntakeService(
        catalog=load_catalog(settings.catalog_path),
        limits=SubmissionLimits(
            subject_max=settings.subject_max_length,
            description_min=settings.description_min_length,
            description_max=settings.description_max_length,
        ),
        topics=settings.topics,
        store=store,
        publisher=KafkaEventPublisher(broker),
    )
    return built
