"""Notifier service: `uvicorn notifier.app:create_app --factory`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI
from faststream_fastapi import FastStreamAPI
from jinja2 import PackageLoader, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import Field, TypeAdapter

from notifier.adapters.kafka import KafkaFailedDeliveries
from notifier.adapters.mongo import MongoAccountDirectory, MongoNotificationLedger, MongoRetryQueue
from notifier.adapters.smtp import SmtpMailer
from notifier.domain.backoff import RetryPolicy
from notifier.domain.compose import MailSettings
from notifier.service import NotificationService
from notifier.settings import NotifierSettings
from shared.deadletters import record_redrive_count
from shared.directory import ACCOUNTS_COLLECTION, DIRECTORY_DATABASE
from shared.events import (
    AgentReplied,
    CommentAdded,
    DocumentsUploaded,
    InformationRequested,
    NotificationEvent,
    StatusChanged,
    TicketRouted,
    TicketSubmitted,
)
from shared.kafka import (
    InboundRecord,
    KafkaDeadLetters,
    KafkaEventPublisher,
    consumer_options,
    create_broker,
    current_records,
    decode_records,
    handle_isolated,
    raw_body,
)
from shared.keyed import in_key_order
from shared.logging import get_logger
from shared.metrics import ServiceMetrics
from shared.mongo import create_mongo_client, mongo_is_ready
from shared.service import ServiceApp, build_app, kafka_is_ready

SERVICE = "notifier"
log = get_logger(__name__)

# Everything on the three topics the notifier reads; decoded by event_type.
NotifiableEvent = Annotated[
    TicketSubmitted
    | TicketRouted
    | CommentAdded
    | AgentReplied
    | InformationRequested
    | DocumentsUploaded
    | StatusChanged,
    Field(discriminator="event_type"),
]
notifiable_event: TypeAdapter[NotifiableEvent] = TypeAdapter(NotifiableEvent)


def mail_templates() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=PackageLoader("notifier", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        keep_trailing_newline=True,
    )


async def retry_loop(service: NotificationService, poll_seconds: float) -> None:
    """Attempt due retries until cancelled; an error is logged, never fatal to the loop."""
    while True:
        try:
            attempted = await service.retry_due()
        except Exception:
            log.exception("retry pass failed")
            attempted = 0
        if not attempted:
            await asyncio.sleep(poll_seconds)


def create_app() -> FastStreamAPI:
    return build(NotifierSettings()).asgi


def build(settings: NotifierSettings) -> ServiceApp:
    topics = settings.topics
    mongo = create_mongo_client(settings, SERVICE)
    database = mongo[settings.database]
    ledger = MongoNotificationLedger(database["notifications"])
    retries = MongoRetryQueue(database["retries"])
    metrics = ServiceMetrics(SERVICE)
    emails = metrics.counter(
        "helpdesk_emails_total",
        "Notification e-mails by kind and outcome (sent, duplicate, deferred, failed)",
        ("kind", "outcome"),
    )
    broker = create_broker(
        settings,
        SERVICE,
        description="E-mails customers at their account address",
        metrics=metrics,
    )
    service = NotificationService(
        directory=MongoAccountDirectory(mongo[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION]),
        mailer=SmtpMailer(settings),
        ledger=ledger,
        publisher=KafkaEventPublisher(broker),
        retries=retries,
        failed=KafkaFailedDeliveries(broker, topics, SERVICE),
        retry_policy=RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            base_seconds=settings.retry_base_seconds,
            max_delay_seconds=settings.retry_max_delay_seconds,
        ),
        templates=mail_templates(),
        mail_settings=MailSettings(
            mail_from=settings.mail_from,
            mail_domain=settings.mail_domain,
            reply_domain=settings.reply_domain,
            public_base_url=settings.public_base_url,
        ),
        topics=topics,
        on_outcome=lambda kind, outcome: emails.labels(kind, outcome).inc(),
    )

    dead_letters = KafkaDeadLetters(broker, SERVICE)

    # In batches: accounts and claims read and written once per batch, one request's events in
    # order, and up to `concurrency` requests at once (1 by default: see NotifierSettings).
    @broker.subscriber(
        topics.submitted,
        topics.routed,
        topics.activity,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        decoder=raw_body,
        title="notify",
        **consumer_options(SERVICE),
    )
    async def notify(_: list[bytes]) -> None:
        decoded = await decode_records(current_records(), notifiable_event, dead_letters)
        batch = await service.for_batch([event for _, event in decoded])

        async def deliver(item: tuple[InboundRecord, NotifiableEvent]) -> None:
            record, event = item
            redriven = record_redrive_count(record) > 0
            await handle_isolated(
                record, lambda: batch.handle(event, redriven=redriven), dead_letters
            )

        await in_key_order(
            decoded,
            key=lambda item: item[1].ticket_id,
            work=deliver,
            concurrency=settings.concurrency,
        )

    broker.publisher(topics.notifications, schema=NotificationEvent, title="notifications")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ledger.ensure_indexes()
        await retries.ensure_indexes()
        retrying = asyncio.create_task(retry_loop(service, settings.retry_poll_seconds))
        yield
        retrying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retrying
        await mongo.close()

    return build_app(
        service=SERVICE,
        title="Help Centre notifier",
        description="E-mails the customer at the account's own address, once per notification.",
        settings=settings,
        broker=broker,
        lifespan=lifespan,
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        metrics=metrics,
    )
