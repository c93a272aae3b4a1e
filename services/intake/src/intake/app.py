"""Intake service: `uvicorn intake.app:create_app --factory`."""

from __future__ import annotations

import re
from datetime import timedelta

from faststream_fastapi import FastStreamAPI
from gridfs import AsyncGridFSBucket
from starlette.types import Scope

from intake.adapters.gridfs import GridFSAttachmentStore
from intake.adapters.mongo import MongoIdempotencyStore, MongoRateLimiter, MongoTicketStore
from intake.api import ROUTERS, install_error_handlers
from intake.api.dependencies import IntakeUseCases, UploadRules
from intake.domain.activity import MessageLimits
from intake.domain.attachments import MIB, AttachmentLimits
from intake.domain.submission import SubmissionLimits
from intake.service.activity import TicketActivity
from intake.service.agent import AgentActions
from intake.service.customer import CustomerActions
from intake.service.delivery import EventDelivery
from intake.service.files import Attachments
from intake.service.idempotency import IdempotencyGate
from intake.service.placement import Placement
from intake.service.submission import Submissions
from intake.settings import IntakeSettings
from shared.contracts.catalog import load_catalog
from shared.contracts.events import ActivityEvent, TicketRouted, TicketSubmitted
from shared.http.app import ServiceApp, build_app, kafka_is_ready, service_lifespan
from shared.kafka.broker import batch_subscriber, create_broker
from shared.kafka.dead_letters import KafkaDeadLetters
from shared.kafka.publishing import KafkaEventPublisher
from shared.metrics import ServiceMetrics
from shared.mongo import MongoAccountDirectory, create_mongo_client, mongo_is_ready

SERVICE = "intake"
FIRST_REPLY_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
ATTACHMENTS_BUCKET = "attachments"
# The endpoints that take files: their body may be as large as the files allowed, plus text.
_UPLOAD_PATHS = re.compile(r"^/v1/tickets(/[^/]+/documents)?/?$")


class RoutingOutcomes:
    """The agents' work as metrics: was a request answered and solved by the team it was
    first placed with (first time right), or only after a transfer?"""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._first_reply = metrics.histogram(
            "helpdesk_first_reply_seconds",
            "Time from submission to the first answer to the customer, by whether the request"
            " had been moved to another team first",
            ("transferred",),
            buckets=FIRST_REPLY_BUCKETS,
        )
        self._solved = metrics.counter(
            "helpdesk_solved_total",
            "Requests solved, by whether they had been moved to another team (first time right"
            " = transferred=false)",
            ("transferred",),
        )

    def first_reply(self, seconds: float, transferred: bool) -> None:
        self._first_reply.labels(str(transferred).lower()).observe(seconds)

    def solved(self, transferred: bool) -> None:
        self._solved.labels(str(transferred).lower()).inc()


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
    activity_window = timedelta(seconds=settings.activity_rate_window_seconds)
    activity_limiter = MongoRateLimiter(
        database["activity_limits"], limit=settings.activity_rate_limit, window=activity_window
    )
    metrics = ServiceMetrics(SERVICE)
    broker = create_broker(
        settings,
        SERVICE,
        description="Publishes customers' requests and agents' actions",
        metrics=metrics,
    )
    # Declared for the AsyncAPI document; publishing goes through the outbox (EventDelivery).
    topics = settings.topics
    broker.publisher(topics.submitted, schema=TicketSubmitted, title="tickets.submitted")
    broker.publisher(topics.activity, schema=ActivityEvent, title="tickets.activity")
    # The router's decisions: the team a transfer moves a request from, the decision it carries.
    placement = Placement(store=tickets, dead_letters=KafkaDeadLetters(broker, SERVICE))
    batch_subscriber(
        broker,
        topics.routed,
        group_id=SERVICE,
        title="place-routed",
        settings=settings,
        payload=TicketRouted,
        description="Where each request is: the router's decision, for transfers",
    )(placement.record)
    delivery = EventDelivery(
        store=tickets,
        publisher=KafkaEventPublisher(broker),
        timeout_seconds=settings.publish_timeout_seconds,
        grace=timedelta(seconds=settings.outbox_grace_seconds),
    )

    built = build_app(
        service=SERVICE,
        title="Help Centre intake",
        description="The only write entrance: customers submit requests, agents reply.",
        settings=settings,
        broker=broker,
        lifespan=service_lifespan(
            setup=[s.ensure_indexes for s in (tickets, claims, rate_limiter, activity_limiter)],
            background=[lambda: delivery.run_relay(settings.outbox_relay_interval_seconds)],
            close=[mongo.close],
        ),
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        routers=ROUTERS,
        metrics=metrics,
        body_cap=lambda scope: body_cap(scope),  # per route, defined below
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

    install_error_handlers(built.http)
    idempotency = IdempotencyGate(
        claims,
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
        wait_seconds=settings.idempotency_wait_seconds,
    )
    key_ttl = timedelta(seconds=settings.idempotency_key_ttl_seconds)
    files = GridFSAttachmentStore(AsyncGridFSBucket(database, bucket_name=ATTACHMENTS_BUCKET))
    activity = TicketActivity(
        topics=topics,
        store=tickets,
        delivery=delivery,
        idempotency=idempotency,
        message_limits=MessageLimits(settings.message_max_length),
        key_ttl=key_ttl,
    )
    catalog = load_catalog(settings.catalog_path)
    submissions = Submissions(
        catalog=catalog,
        limits=SubmissionLimits(
            subject_max=settings.subject_max_length,
            description_min=settings.description_min_length,
            description_max=settings.description_max_length,
        ),
        topics=topics,
        store=tickets,
        delivery=delivery,
        attachments=files,
        idempotency=idempotency,
        rate_limiter=rate_limiter,
        rate_limit=settings.rate_limit_tickets,
        rate_window=window,
        duplicate_window=timedelta(seconds=settings.duplicate_window_seconds),
        key_ttl=key_ttl,
    )
    built.http.state.intake = IntakeUseCases(
        submissions=submissions,
        customers=CustomerActions(
            activity=activity,
            attachments=files,
            rate_limiter=activity_limiter,
            submissions=submissions,
            rate_limit=settings.activity_rate_limit,
            rate_window=activity_window,
        ),
        agents=AgentActions(
            activity=activity,
            catalog=catalog,
            directory=MongoAccountDirectory.of(mongo),
            observer=RoutingOutcomes(metrics),
        ),
        attachments=Attachments(store=tickets, files=files),
        upload_rules=UploadRules(limits, settings.max_form_field_bytes),
    )
    built.http.state.delivery = delivery
    return built
