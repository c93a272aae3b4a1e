"""History's scheduler, its own process: `uvicorn history.scheduler_app:create_app --factory`.

It fires the timers the projection planned (history.scheduler): SLA warnings and breaches to
tickets.sla and the team's topic, automations due to tickets.sla (the intake applies them).
Run as many replicas as you like: the timers' leases share the work. Its HTTP port
(HISTORY_SCHEDULER_PORT, 8006) serves /healthz, /readyz and /metrics.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from faststream_fastapi import FastStreamAPI

from history.adapters.mongo import MongoRequestRepository
from history.adapters.timers import MongoTimerStore
from history.ports import ClaimedTimer
from history.scheduler import Outcome, Scheduler
from history.settings import HistorySettings
from shared.contracts.events import Envelope, SlaAlert, SlaEvent, SlaWarning, TeamMessage
from shared.http.app import ServiceApp, build_app, kafka_is_ready, service_lifespan
from shared.kafka.broker import create_broker
from shared.kafka.publishing import KafkaEventPublisher
from shared.metrics import ServiceMetrics
from shared.mongo import create_mongo_client, mongo_is_ready

SERVICE = "history-scheduler"
LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


def create_app() -> FastStreamAPI:
    return build(HistorySettings()).asgi


class SchedulerMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._timers = metrics.counter(
            "helpdesk_timers_total",
            "Timers the scheduler handled, by kind (sla, automation) and outcome (fired,"
            " dropped: the request moved past it, rescheduled: its due time moved later)",
            ("kind", "outcome"),
        )
        self._alerts = metrics.counter(
            "helpdesk_sla_alerts_total",
            "SLA warnings and breaches published, by team, priority, metric and phase",
            ("team", "priority", "metric", "phase"),
        )
        self._lag = metrics.histogram(
            "helpdesk_timer_lag_seconds",
            "From a timer's due time to its firing",
            (),
            buckets=LAG_BUCKETS,
        )

    def observe(
        self, timer: ClaimedTimer, outcome: Outcome, event: Envelope | None, now: datetime
    ) -> None:
        kind = "automation" if timer.key.startswith("auto:") else "sla"
        self._timers.labels(kind, outcome).inc()
        if outcome != "fired":
            return
        self._lag.observe(max((now - timer.due_at).total_seconds(), 0.0))  # no labels
        if isinstance(event, SlaAlert):
            phase = "warning" if isinstance(event, SlaWarning) else "breach"
            self._alerts.labels(event.team, event.priority.value, event.metric.value, phase).inc()


def build(settings: HistorySettings) -> ServiceApp:
    mongo = create_mongo_client(settings, SERVICE)
    database = mongo[settings.database]
    timers = MongoTimerStore(database[settings.timers_collection])
    metrics = ServiceMetrics(SERVICE)
    broker = create_broker(
        settings, SERVICE, description="Fires the time rules' timers", metrics=metrics
    )
    topics = settings.topics
    broker.publisher(topics.sla, schema=SlaEvent, title="tickets.sla")
    broker.publisher(topics.team("{team}"), schema=TeamMessage, title="team.{team}")
    scheduler = Scheduler(
        timers=timers,
        requests=MongoRequestRepository(database[settings.collection]),
        rules=settings.time_rules(),
        publisher=KafkaEventPublisher(broker),
        topics=topics,
        batch=settings.scheduler_batch,
        lease=timedelta(seconds=settings.scheduler_lease_seconds),
        observe=SchedulerMetrics(metrics).observe,
    )
    built = build_app(
        service=SERVICE,
        title="Help Centre scheduler",
        description="Time rules: SLA warnings and breaches, reminders, auto-solve, auto-close.",
        settings=settings,
        broker=broker,
        lifespan=service_lifespan(
            setup=[timers.ensure_indexes],
            background=[lambda: scheduler.run(settings.scheduler_poll_seconds)],
            close=[mongo.close],
        ),
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        metrics=metrics,
    )
    built.http.state.scheduler = scheduler
    return built
