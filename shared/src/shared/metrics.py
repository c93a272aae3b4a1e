"""Prometheus metrics for one service, served at `/metrics`.

FastStream's KafkaPrometheusMiddleware counts messages consumed and published and times each
handler (`faststream_*`). Around it we add what FastStream cannot know: consumer lag per
partition (read at scrape time), dead letters by original topic and error type, HTTP requests
by route, and whatever a service registers through `counter()` (routing decisions, e-mail
outcomes). Each service owns its registry, so tests may build many apps in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contracts.topics import DLQ_SUFFIX
from shared.http.problems import ProblemError
from shared.logging import get_logger

log = get_logger(__name__)

METRICS_PATH = "/metrics"
# Handler and HTTP latencies of interest run from a millisecond to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LAG_PROBE_SECONDS = 2.0
# Label values a client chooses must come from a fixed set: each new value is a new series,
# held in memory for the life of the process. Any token is a valid HTTP method to h11.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


class ServiceMetrics:
    """The registry of one service and the collectors every service has."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        # RSS, CPU and open files of this process: what the benchmark reads for memory.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.kafka_middleware = KafkaPrometheusMiddleware(
            registry=self.registry, app_name=service, metrics_prefix="faststream"
        )
        self.dead_letters = Counter(
            "helpdesk_dead_letters_total",
            "Messages sent to a dead-letter topic, by original topic and error type",
            ("topic", "error_type"),
            registry=self.registry,
        )
        self.http_requests = Counter(
            "helpdesk_http_requests_total",
            "HTTP requests answered, by method, route template and status code",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "helpdesk_http_request_duration_seconds",
            "HTTP request handling time, by method and route template",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "helpdesk_consumer_lag",
            "Records behind the partition's end (high watermark minus committed offset)",
            ("group", "topic", "partition"),
            registry=self.registry,
        )
        self._brokers: list[KafkaBroker] = []

    def counter(self, name: str, documentation: str, labels: Sequence[str]) -> Counter:
        return Counter(name, documentation, tuple(labels), registry=self.registry)

    def histogram(
        self, name: str, documentation: str, labels: Sequence[str], *, buckets: Sequence[float]
    ) -> Histogram:
        return Histogram(
            name, documentation, tuple(labels), buckets=tuple(buckets), registry=self.registry
        )

    def broker_middlewares(self) -> tuple[Any, ...]:
        """Outermost first: the Prometheus middleware times the whole handling, retries too."""
        return (self.kafka_middleware, dead_letter_counter(self.dead_letters))

    def watch_lag(self, broker: KafkaBroker) -> None:
        self._brokers.append(broker)

    async def refresh_lag(self) -> None:
        """Set the lag gauge from every subscriber's consumer; a consumer that is rebalancing
        or stopped is skipped rather than holding up the scrape."""
        self.consumer_lag.clear()
        for broker in self._brokers:
            for subscriber in broker.subscribers:
                consumer = getattr(subscriber, "consumer", None)  # None until started
                if consumer is None:
                    continue
                group = str(getattr(subscriber, "group_id", "") or "")
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self._consumer_lag(group, consumer), timeout=LAG_PROBE_SECONDS
                    )

    async def _consumer_lag(self, group: str, consumer: Any) -> None:
        for tp in sorted(consumer.assignment(), key=lambda p: (p.topic, p.partition)):
            end = consumer.highwater(tp)  # from the last fetch: no round trip
            committed = await consumer.committed(tp)
            if end is None:
                continue
            lag = max(end - (committed or 0), 0)
            self.consumer_lag.labels(group, tp.topic, str(tp.partition)).set(lag)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def dead_letter_counter(counter: Counter) -> type[BaseMiddleware]:
    """A publish-side middleware that counts whatever is published to a `*.dlq` topic, so
    every dead-letter path is counted without knowing about metrics."""

    class DeadLetterCounter(BaseMiddleware):
        async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
            result = await call_next(cmd)
            destination = str(getattr(cmd, "destination", ""))
            if destination.endswith(DLQ_SUFFIX):
                headers = getattr(cmd, "headers", None) or {}
                counter.labels(
                    headers.get("x-dlq-original-topic") or destination.removesuffix(DLQ_SUFFIX),
                    headers.get("x-dlq-error-type", "unknown"),
                ).inc()
            return result

    return DeadLetterCounter


def metrics_router(metrics: ServiceMetrics, token: SecretStr | None = None) -> APIRouter:
    """/metrics; with a token (always in production: shared.settings), only for a scraper that
    presents it as a bearer token."""
    router = APIRouter(tags=["operations"])
    expected = _digest(token.get_secret_value()) if token is not None else None

    @router.get(METRICS_PATH, summary="Prometheus metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if expected is not None:
            scheme, _, presented = request.headers.get("authorization", "").partition(" ")
            # Digests of equal length, compared in constant time: neither the token nor its
            # length can be found by timing the answers.
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                _digest(presented.strip()), expected
            ):
                raise ProblemError(
                    401,
                    "Not authenticated",
                    "the metrics need the scrape token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        await metrics.refresh_lag()
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class HttpMetricsMiddleware:
    """Pure ASGI middleware: counts and times each HTTP request by its route template (not the
    raw path, so ticket ids do not explode the label set), a known method and a status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # a template
            method = str(scope.get("method", ""))
            method = method if method in HTTP_METHODS else OTHER
            code = str(status) if 100 <= status <= 599 else OTHER
            self.metrics.http_requests.labels(method, route, code).inc()
            self.metrics.http_latency.labels(method, route).observe(time.perf_counter() - started)
