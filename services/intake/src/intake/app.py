"""Intake service: `uvicorn intake.app:create_app --factory`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from faststream_fastapi import FastStreamAPI
from gridfs import AsyncGridFSBucket
from starlette.types import Scope

from intake.adapters.gridfs import GridFSAttachmentStore
from intake.adapters.mongo import MongoIdempotencyStore, MongoRateLimiter, MongoTicketStore
from intake.api import UploadRules, install_error_handlers
from intake.api import router as api_router
from intake.domain.activity import MessageLimits
from intake.domain.attachments import MIB, AttachmentLimits
from intake.domain.submission import SubmissionLimits
from intake.idempotency import IdempotencyGate
from intake.service import IntakeService
from intake.settings import IntakeSettings
from shared.contracts.catalog import load_catalog
from shared.http.app import ServiceApp, build_app, kafka_is_ready
from shared.http.limits import BodyLimitMiddleware
from shared.kafka.broker import create_broker
from shared.kafka.publishing import KafkaEventPublisher
from shared.metrics import ServiceMetrics
from shared.mongo import create_mongo_client, mongo_is_ready

SERVICE = "intake"
ATTACHMENTS_BUCKET = "attachments"
# The endpoints that take files: their body may be as large as the files allowed, plus text.
_UPLOAD_PATHS = re.compile(r"^/v1/tickets(/[^/]+/documents)?/?$")


def create_app() -> FastStreamAPI:
    return build(IntakeSettings()).asgi


def build(settings: IntakeSettings) -> ServiceApp:
    mongo = create_mongo_client(settings, SERVICE)
    database = mongo[settings.database]
    tickets = MongoTicketStore(database["tickets"])
    claims = MongoIdempotencyStore(database["idempotency"])
    window = timedelta(seconds=settings.rate_limit_window_seconds)
    rate_limiter = MongoRateLimiter(
        database["rate_limits"], limit=settings.rate_limit_tickets, window=window
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await tickets.ensure_indexes()
        await claims.ensure_indexes()
        await rate_limiter.ensure_indexes()
        yield
        await mongo.close()

    metrics = ServiceMetrics(SERVICE)
    broker = create_broker(
        settings,
        SERVICE,
        description="Publishes customers' requests and agents' actions",
        metrics=metrics,
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
        metrics=metrics,
    )
    limits = AttachmentLimits(
        max_count=settings.max_attachments,
        max_bytes=settings.max_attachment_bytes,
        allowed_types=frozenset(settings.attachment_types),
    )
    upload_cap = limits.max_count * limits.max_bytes + 4 * settings.max_form_field_bytes + MIB

    def body_cap(scope: Scope) -> int:
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        upload = (
            scope["method"] == "POST"
            and content_type.lower().startswith(b"multipart/form-data")
            and _UPLOAD_PATHS.fullmatch(scope["path"])
        )
        return upload_cap if upload else settings.max_json_bytes

    built.http.add_middleware(BodyLimitMiddleware, cap_for=body_cap)
    install_error_handlers(built.http)
    built.http.state.upload_rules = UploadRules(limits, settings.max_form_field_bytes)
    built.http.state.intake_service = IntakeService(
        catalog=load_catalog(settings.catalog_path),
        limits=SubmissionLimits(
            subject_max=settings.subject_max_length,
            description_min=settings.description_min_length,
            description_max=settings.description_max_length,
        ),
        topics=settings.topics,
        store=tickets,
        publisher=KafkaEventPublisher(broker),
        attachments=GridFSAttachmentStore(
            AsyncGridFSBucket(database, bucket_name=ATTACHMENTS_BUCKET)
        ),
        idempotency=IdempotencyGate(
            claims,
            lease=timedelta(seconds=settings.idempotency_lease_seconds),
            wait_seconds=settings.idempotency_wait_seconds,
        ),
        rate_limiter=rate_limiter,
        message_limits=MessageLimits(settings.message_max_length),
        rate_limit=settings.rate_limit_tickets,
        rate_window=window,
        duplicate_window=timedelta(seconds=settings.duplicate_window_seconds),
        key_ttl=timedelta(seconds=settings.idempotency_key_ttl_seconds),
        publish_timeout_seconds=settings.publish_timeout_seconds,
    )
    return built
