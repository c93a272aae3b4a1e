"""Intake service: `uvicorn intake.app:create_app --factory`."""

from __future__ import annotations

import re

from faststream.kafka import KafkaBroker
from faststream_fastapi import FastStreamAPI
from starlette.types import Scope

from intake.adapters.router_client import RouterClassifier
from intake.api import ROUTERS, install_error_handlers
from intake.api.dependencies import IntakeUseCases, UploadRules
from intake.domain.attachments import MIB
from intake.service.placement import Placement
from intake.settings import IntakeSettings
from intake.wiring import wire
from shared.contracts.events import (
    AccountRecoveryRequested,
    ActivityEvent,
    SlaEvent,
    TicketRouted,
    TicketSubmitted,
)
from shared.http.app import ServiceApp, build_app, kafka_is_ready, service_lifespan
from shared.kafka.broker import batch_subscriber, create_broker
from shared.kafka.dead_letters import KafkaDeadLetters
from shared.kafka.records import InboundRecord
from shared.metrics import ServiceMetrics
from shared.mongo import create_mongo_client, mongo_is_ready

SERVICE = "intake"
FIRST_REPLY_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
# The endpoints that take files: their body may be as large as the files allowed, plus text.
_UPLOAD_PATHS = re.compile(r"^/v1/(tickets(/[^/]+/documents)?|account-recovery/request)/?$")


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
    metrics = ServiceMetrics(SERVICE)
    broker = create_broker(
        settings,
        SERVICE,
        description="Publishes customers' requests and agents' actions",
        metrics=metrics,
    )
    suggestion_outcomes = metrics.counter(
        "helpdesk_suggestions_total",
        "Classifications asked of the router for the form's suggestions, by outcome (ok,"
        " timeout, error): a timeout or error is a form without suggestions",
        ("outcome",),
    )
    classifier = RouterClassifier(
        settings.router_url,
        settings.classify_key,
        timeout_seconds=settings.suggestion_timeout_seconds,
        outcome=lambda outcome: suggestion_outcomes.labels(outcome).inc(),
    )
    automation_outcomes = metrics.counter(
        "helpdesk_automations_total",
        "Time rules (automations) that came due, by rule and outcome: applied, or skipped"
        " (the request had moved on since the rule found it, or is unknown here)",
        ("rule", "outcome"),
    )
    wired = wire(
        settings,
        mongo,
        broker,
        observer=RoutingOutcomes(metrics),
        classifier=classifier,
        automation_outcome=lambda rule, outcome: automation_outcomes.labels(rule, outcome).inc(),
    )
    declare_publishers(broker, settings)
    dead_letters = KafkaDeadLetters(broker, SERVICE)
    # One consumer over the two topics the intake reads (one group join at start, as history):
    # the router's decisions (the team a transfer moves a request from, the decision it hands
    # on) and the time rules' automations due (the intake, the only writer, applies them).
    placement = Placement(store=wired.tickets, dead_letters=dead_letters)
    automations = wired.automations
    topics = settings.topics

    async def consume(records: list[InboundRecord]) -> None:
        routed = [r for r in records if r.topic == topics.routed]
        due = [r for r in records if r.topic == topics.sla]
        if routed:
            await placement.record(routed)
        if due:
            await automations.handle_records(due, dead_letters)

    batch_subscriber(
        broker,
        topics.routed,
        topics.sla,
        group_id=SERVICE,
        title="place-and-automate",
        settings=settings,
        payload=TicketRouted | SlaEvent,
        description="Where each request is (the router's decisions, for transfers), and the"
        " automations due (remind, solve, close), applied if the request is still where the"
        " rule found it; SLA warnings and breaches are ignored",
    )(consume)
    limits = wired.limits
    upload_cap = limits.max_count * limits.max_bytes + 4 * settings.max_form_field_bytes + MIB

    def body_cap(scope: Scope) -> int:
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        upload = (
            scope["method"] == "POST"
            and content_type.lower().startswith(b"multipart/form-data")
            and _UPLOAD_PATHS.fullmatch(scope["path"])
        )
        return upload_cap if upload else settings.max_json_bytes

    relay = wired.delivery.run_relay
    built = build_app(
        service=SERVICE,
        title="Help Centre intake",
        description="The only write entrance: customers submit requests, agents reply.",
        settings=settings,
        broker=broker,
        lifespan=service_lifespan(
            setup=[wired.ensure_indexes],
            background=[lambda: relay(settings.outbox_relay_interval_seconds)],
            close=[wired.delivery.flush, mongo.close, classifier.close],
        ),
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        routers=ROUTERS,
        metrics=metrics,
        body_cap=body_cap,
    )
    install_error_handlers(built.http)
    built.http.state.intake = IntakeUseCases(
        submissions=wired.submissions,
        suggestions=wired.suggestions,
        recovery=wired.recovery,
        customers=wired.customers,
        agents=wired.agents,
        attachments=wired.attachments,
        upload_rules=UploadRules(limits, settings.max_form_field_bytes),
    )
    built.http.state.delivery = wired.delivery
    built.http.state.automations = automations
    return built


def declare_publishers(broker: KafkaBroker, settings: IntakeSettings) -> None:
    """For the AsyncAPI document; publishing goes through the outbox (EventDelivery)."""
    topics = settings.topics
    broker.publisher(topics.submitted, schema=TicketSubmitted, title="tickets.submitted")
    broker.publisher(topics.activity, schema=ActivityEvent, title="tickets.activity")
    broker.publisher(topics.recovery, schema=AccountRecoveryRequested, title="accounts.recovery")
