"""Notifier service: `uvicorn notifier.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from faststream_fastapi import FastStreamAPI
from pymongo import AsyncMongoClient

from notifier.adapters.kafka import KafkaFailedDeliveries
from notifier.adapters.mongo import MongoNotificationLedger, MongoRequestLocales, MongoRetryQueue
from notifier.adapters.smtp import SmtpMailer
from notifier.domain.backoff import RetryPolicy
from notifier.domain.compose import MailSettings
from notifier.domain.templates import mail_templates
from notifier.service import NotifiableEvent, NotificationService
from notifier.settings import NotifierSettings
from shared.contracts.catalog import load_catalog
from shared.contracts.events import NotificationEvent
from shared.http.app import ServiceApp, build_app, kafka_is_ready, service_lifespan
from shared.kafka.broker import batch_subscriber, create_broker
from shared.kafka.dead_letters import KafkaDeadLetters
from shared.kafka.publishing import KafkaEventPublisher
from shared.logging import get_logger
from shared.metrics import ServiceMetrics
from shared.mongo import Document, MongoAccountDirectory, create_mongo_client, mongo_is_ready

SERVICE = "notifier"
log = get_logger(__name__)


__all__ = ["Wiring", "build", "create_app", "mail_templates", "wire"]


def create_app() -> FastStreamAPI:
    return build(NotifierSettings()).asgi


@dataclass(frozen=True)
class Wiring:
    """The service on its real adapters, and the stores whose indexes start-up ensures."""

    service: NotificationService
    ledger: MongoNotificationLedger
    retries: MongoRetryQueue
    mailer: SmtpMailer


def wire(
    settings: NotifierSettings,
    mongo: AsyncMongoClient[Document],
    broker: KafkaBroker,
    on_outcome: Callable[[str, str], None] | None = None,
) -> Wiring:
    """NotificationService on MongoDB, SMTP and Kafka: what build() serves and what
    notifier.mail_bench measures."""
    database = mongo[settings.database]
    ledger = MongoNotificationLedger(database["notifications"])
    retries = MongoRetryQueue(database["retries"])
    mailer = SmtpMailer(settings)
    service = NotificationService(
        directory=MongoAccountDirectory.of(mongo),
        mailer=mailer,
        ledger=ledger,
        publisher=KafkaEventPublisher(broker),
        retries=retries,
        failed=KafkaFailedDeliveries(broker, settings.topics, SERVICE),
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
            reply_secret=settings.reply_key,
            public_base_url=settings.public_base_url,
            recovery_secret=settings.recovery_key,
            catalog=load_catalog(settings.catalog_path),
        ),
        topics=settings.topics,
        dead_letters=KafkaDeadLetters(broker, SERVICE),
        locales=MongoRequestLocales(database["requests"]),
        concurrency=settings.concurrency,
    )
    if on_outcome is not None:
        service.on_outcome = on_outcome
    return Wiring(service, ledger, retries, mailer)


def build(settings: NotifierSettings) -> ServiceApp:
    topics = settings.topics
    mongo = create_mongo_client(settings, SERVICE)
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
    wiring = wire(
        settings, mongo, broker, on_outcome=lambda kind, outcome: emails.labels(kind, outcome).inc()
    )
    service, ledger, retries = wiring.service, wiring.ledger, wiring.retries

    # In batches: accounts and claims read and written once per batch, one request's events in
    # order, and up to `concurrency` requests at once (1 by default: see NotifierSettings).
    batch_subscriber(
        broker,
        topics.submitted,
        topics.routed,
        topics.activity,
        topics.recovery,
        group_id=SERVICE,
        title="notify",
        settings=settings,
        payload=NotifiableEvent,
        description="Requests, routing decisions and activity that the customer is e-mailed"
        " about, and account-recovery requests (a one-time link to the account's own address)",
    )(service.handle_records)

    broker.publisher(topics.notifications, schema=NotificationEvent, title="notifications")

    return build_app(
        service=SERVICE,
        title="Help Centre notifier",
        description="E-mails the customer at the account's own address, once per notification.",
        settings=settings,
        broker=broker,
        lifespan=service_lifespan(
            setup=[ledger.ensure_indexes, retries.ensure_indexes],
            background=[lambda: service.run_retries(settings.retry_poll_seconds)],
            close=[wiring.mailer.close, mongo.close],
        ),
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        metrics=metrics,
    )
