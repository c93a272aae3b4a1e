"""Router service: `uvicorn router.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace

from faststream_fastapi import FastStreamAPI

from router.api import router as api_router
from router.classifier.types import TeamClassifier
from router.domain.categories import load_category_map
from router.domain.decision import DecisionThresholds
from router.domain.routing import RoutingPolicy
from router.domain.rules import load_rules
from router.handover import HandoverService
from router.language import LanguageDetector
from router.service import RoutingService
from router.settings import RouterSettings
from shared.contracts.catalog import load_catalog
from shared.contracts.events import ActivityEvent, TeamMessage, TicketRouted, TicketSubmitted
from shared.http.app import ServiceApp, build_app, kafka_is_ready, service_lifespan
from shared.kafka.broker import batch_subscriber, create_broker
from shared.kafka.dead_letters import KafkaDeadLetters
from shared.kafka.pipeline import pipelined_batch_subscriber
from shared.kafka.publishing import KafkaEventPublisher
from shared.kafka.records import InboundRecord
from shared.logging import get_logger
from shared.metrics import ServiceMetrics
from shared.mongo import MongoAccountDirectory, create_mongo_client

SERVICE = "router"
# A misroute costs minutes when an agent spots it at once, days when it waits in a queue.
MISROUTE_DELAY_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
log = get_logger(__name__)


def load_model(settings: RouterSettings) -> TeamClassifier | None:
    if not settings.model_path.exists():
        log.warning(
            "no model artifact: routing by rules and customer category only",
            model_path=str(settings.model_path),
            hint="make model",
        )
        return None
    from threadpoolctl import threadpool_limits

    from router.classifier import load_classifier  # heavy import only when there is a model

    model = load_classifier(settings.model_path, embedding_gate=settings.embedding_gate)
    if settings.blas_threads:  # process-wide and for good, once numpy's BLAS is loaded
        threadpool_limits(limits=settings.blas_threads, user_api="blas")
    return model


def thresholds_from(settings: RouterSettings) -> DecisionThresholds:
    overrides = {
        name: value
        for name in ("reroute_confidence", "keep_floor", "triage_below")
        if (value := getattr(settings, name)) is not None
    }
    return replace(DecisionThresholds(), **overrides)


def create_app() -> FastStreamAPI:
    return build(RouterSettings()).asgi


def build(settings: RouterSettings) -> ServiceApp:
    catalog = load_catalog(settings.catalog_path)
    metrics = ServiceMetrics(SERVICE)
    decisions_made = metrics.counter(
        "helpdesk_routing_decisions_total",
        "Routing decisions, by team, reason (customer_category, model, triage, rule:<id>) "
        "and whether the customer's category was overridden",
        ("team", "reason", "rerouted"),
    )
    transfers = metrics.counter(
        "helpdesk_transfers_total",
        "Requests agents moved to another team, by from and to team and by the reason of the"
        " original decision (customer_category, model, triage, rule:<id>): misroutes",
        ("from_team", "to_team", "original_reason"),
    )
    misroute_delay = metrics.histogram(
        "helpdesk_misroute_delay_seconds",
        "Time from the router's decision to an agent's transfer: what a misroute cost",
        ("from_team",),
        buckets=MISROUTE_DELAY_BUCKETS,
    )
    broker = create_broker(
        settings, SERVICE, description="Classifies and forwards requests", metrics=metrics
    )
    mongo = create_mongo_client(settings, SERVICE)
    topics = settings.topics
    service = RoutingService(
        policy=RoutingPolicy(
            catalog=catalog,
            rules=load_rules(settings.rules_path, catalog),
            thresholds=thresholds_from(settings),
            categories=load_category_map(settings.intent_categories_path, catalog),
            languages=frozenset(settings.model_languages),
            foreign_triage_below=settings.foreign_triage_below,
        ),
        classifier=load_model(settings),
        topics=topics,
        publisher=KafkaEventPublisher(broker),
        dead_letters=KafkaDeadLetters(broker, SERVICE),
        directory=MongoAccountDirectory.of(mongo),
        classify_directory_timeout_seconds=settings.classify_directory_timeout_seconds,
        languages=LanguageDetector(),
    )

    @pipelined_batch_subscriber(
        broker,
        topics.submitted,
        group_id=settings.group_id,
        title="route-submitted",
        settings=settings,
        payload=TicketSubmitted,
        depth=settings.pipeline_depth,
        description="Each submitted request is classified and forwarded to its team",
    )
    async def on_submitted(records: list[InboundRecord]) -> Awaitable[None]:
        routed = await service.dispatch_batch(records)
        for decision in routed.decisions:
            rerouted = "true" if decision.rerouted_from else "false"
            decisions_made.labels(decision.team, decision.reason, rerouted).inc()
        return routed.acknowledged  # the window commits the batch once it completes

    handover = HandoverService(
        topics=topics,
        publisher=KafkaEventPublisher(broker),
        dead_letters=KafkaDeadLetters(broker, SERVICE),
    )

    @batch_subscriber(
        broker,
        topics.activity,
        # Its own group: routing never waits on its rebalances.
        group_id=f"{settings.group_id}-handover",
        title="hand-over-transfers",
        settings=settings,
        payload=ActivityEvent,
        description="An agent moved a request: the new team gets it, the old one a withdrawal",
    )
    async def on_activity(records: list[InboundRecord]) -> None:
        for moved in await handover.hand_over(records):
            transfer = moved.transfer
            transfers.labels(transfer.from_team, transfer.to_team, moved.decision.reason).inc()
            if moved.routed_at is not None:
                delay = (moved.occurred_at - moved.routed_at).total_seconds()
                misroute_delay.labels(transfer.from_team).observe(max(delay, 0.0))

    # Declared for the AsyncAPI document; publishing goes through publish_events.
    broker.publisher(topics.routed, schema=TicketRouted, title="tickets.routed")
    for team in catalog.teams:
        broker.publisher(
            topics.team(team),
            schema=TeamMessage,
            title=f"team.{team}",
            description="The team's requests: TicketAssigned (routed or moved here, ready to"
            " work on) and TicketWithdrawn (moved to another team: drop it)",
        )

    built = build_app(
        service=SERVICE,
        title="Help Centre router",
        description="Classifies each submitted request and forwards it to its team's topic;"
        " classifies a request being written for the Submit-a-request page (POST /v1/classify).",
        settings=settings,
        broker=broker,
        lifespan=service_lifespan(close=[mongo.close]),
        # Not MongoDB: routing goes on without the directory (see RoutingService).
        readiness={"kafka": kafka_is_ready(broker)},
        routers=(api_router,),
        metrics=metrics,
    )
    built.http.state.routing_service = service
    return built
