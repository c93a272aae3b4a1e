"""The intake's use cases wired to their adapters, once, for each of its two processes: the
HTTP API (`intake.app`) and the mail receiver (`intake.mail_app`) run the same use cases on
the same stores, so a comment is the same event whichever way the customer wrote it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from gridfs import AsyncGridFSBucket
from pymongo import AsyncMongoClient

from intake.adapters.gridfs import GridFSAttachmentStore
from intake.adapters.mongo import MongoIdempotencyStore, MongoRateLimiter, MongoTicketStore
from intake.adapters.recovery_store import MongoRecoveryStore
from intake.adapters.submission_gate import MongoSubmissionGate
from intake.domain.activity import MessageLimits
from intake.domain.attachments import AttachmentLimits
from intake.domain.submission import SubmissionLimits
from intake.ports import Classifier
from intake.service.activity import TicketActivity
from intake.service.agent import AgentActions, AgentObserver
from intake.service.automations import AutomationObserver, Automations
from intake.service.customer import CustomerActions
from intake.service.delivery import EventDelivery
from intake.service.files import Attachments
from intake.service.idempotency import IdempotencyGate
from intake.service.recovery import AccountRecovery
from intake.service.submission import Submissions
from intake.service.suggestions import NoClassifier, Suggestions
from intake.settings import IntakeSettings
from shared.contracts.catalog import Catalog, load_catalog
from shared.kafka.publishing import KafkaEventPublisher
from shared.mongo import Document, MongoAccountDirectory

ATTACHMENTS_BUCKET = "attachments"


@dataclass(frozen=True)
class Wiring:
    catalog: Catalog
    tickets: MongoTicketStore
    directory: MongoAccountDirectory
    delivery: EventDelivery
    activity: TicketActivity
    submissions: Submissions
    suggestions: Suggestions
    recovery: AccountRecovery
    customers: CustomerActions
    agents: AgentActions
    automations: Automations
    attachments: Attachments
    limits: AttachmentLimits
    stores: tuple[Any, ...]  # everything with indexes to ensure at start

    async def ensure_indexes(self) -> None:
        for store in self.stores:
            await store.ensure_indexes()


def attachment_limits(settings: IntakeSettings) -> AttachmentLimits:
    return AttachmentLimits(
        max_count=settings.max_attachments,
        max_bytes=settings.max_attachment_bytes,
        allowed_types=frozenset(settings.attachment_types),
    )


def wire(
    settings: IntakeSettings,
    mongo: AsyncMongoClient[Document],
    broker: KafkaBroker,
    observer: AgentObserver | None = None,
    classifier: Classifier | None = None,
    automation_outcome: AutomationObserver | None = None,
) -> Wiring:
    database = mongo[settings.database]
    tickets = MongoTicketStore(database["tickets"])
    claims = MongoIdempotencyStore(database["idempotency"])
    window = timedelta(seconds=settings.rate_limit_window_seconds)
    gate = MongoSubmissionGate(database["submission_gates"])
    activity_window = timedelta(seconds=settings.activity_rate_window_seconds)
    activity_limiter = MongoRateLimiter(
        database["activity_limits"], limit=settings.activity_rate_limit, window=activity_window
    )
    topics = settings.topics
    delivery = EventDelivery(
        store=tickets,
        publisher=KafkaEventPublisher(broker),
        timeout_seconds=settings.publish_timeout_seconds,
        grace=timedelta(seconds=settings.outbox_grace_seconds),
        defer_clears=True,
    )
    idempotency = IdempotencyGate(
        claims,
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
        wait_seconds=settings.idempotency_wait_seconds,
    )
    key_ttl = timedelta(seconds=settings.idempotency_key_ttl_seconds)
    files = GridFSAttachmentStore(AsyncGridFSBucket(database, bucket_name=ATTACHMENTS_BUCKET))
    directory = MongoAccountDirectory.of(mongo)
    catalog = load_catalog(settings.catalog_path)
    activity = TicketActivity(
        topics=topics,
        store=tickets,
        delivery=delivery,
        idempotency=idempotency,
        message_limits=MessageLimits(settings.message_max_length),
        key_ttl=key_ttl,
    )
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
        gate=gate,
        rate_limit=settings.rate_limit_tickets,
        rate_window=window,
        duplicate_window=timedelta(seconds=settings.duplicate_window_seconds),
        key_ttl=key_ttl,
    )
    suggestion_window = timedelta(minutes=1)
    suggestion_limiter = MongoRateLimiter(
        database["suggestion_limits"],
        limit=settings.suggestion_rate_limit,
        window=suggestion_window,
    )
    suggestions = Suggestions(
        classifier=classifier or NoClassifier(),
        catalog=catalog,
        rate_limiter=suggestion_limiter,
        rate_limit=settings.suggestion_rate_limit,
        rate_window=suggestion_window,
        propose_above=settings.suggestion_propose_above,
    )
    recovery_window = timedelta(hours=1)
    per_address = MongoRateLimiter(
        database["recovery_address_limits"],
        limit=settings.recovery_rate_limit_per_address,
        window=recovery_window,
    )
    per_client = MongoRateLimiter(
        database["recovery_client_limits"],
        limit=settings.recovery_rate_limit_per_client,
        window=recovery_window,
    )
    grants = MongoRecoveryStore(database["recovery_grants"])
    recovery = AccountRecovery(
        topics=topics,
        grants=grants,
        accounts=directory,
        events=KafkaEventPublisher(broker),
        submissions=submissions,
        per_address=per_address,
        per_client=per_client,
        secret=settings.recovery_key,
        per_address_limit=settings.recovery_rate_limit_per_address,
        per_client_limit=settings.recovery_rate_limit_per_client,
        window=recovery_window,
        link_lifetime=timedelta(minutes=settings.recovery_link_minutes),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    agents = AgentActions(activity=activity, catalog=catalog, directory=directory)
    if observer is not None:
        agents.observer = observer
    automations = Automations(activity=activity)
    if automation_outcome is not None:
        automations.on_outcome = automation_outcome
    return Wiring(
        catalog=catalog,
        tickets=tickets,
        directory=directory,
        delivery=delivery,
        activity=activity,
        submissions=submissions,
        suggestions=suggestions,
        recovery=recovery,
        customers=CustomerActions(
            activity=activity,
            attachments=files,
            rate_limiter=activity_limiter,
            submissions=submissions,
            rate_limit=settings.activity_rate_limit,
            rate_window=activity_window,
        ),
        agents=agents,
        automations=automations,
        attachments=Attachments(store=tickets, files=files),
        limits=attachment_limits(settings),
        stores=(
            tickets,
            claims,
            gate,
            activity_limiter,
            suggestion_limiter,
            per_address,
            per_client,
            grants,
        ),
    )
