"""The metrics plumbing in memory: HTTP requests are labelled by route template, anything
published to a dead-letter topic is counted, and FastStream's series share the service's
registry (so two apps in one process never collide)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker

from shared.metrics import HttpMetricsMiddleware, ServiceMetrics, metrics_router

pytestmark = pytest.mark.unit


def value(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_http_requests_are_counted_by_route_template() -> None:
    metrics = ServiceMetrics("unit")
    app = FastAPI()

    @app.get("/v1/tickets/{ticket_id}")
    async def ticket(ticket_id: str) -> dict[str, str]:
        return {"ticket_id": ticket_id}

    app.include_router(metrics_router(metrics))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/v1/tickets/AAAA-BBBB-CCCC")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
        scrape = await client.get("/metrics")

    route = "/v1/tickets/{ticket_id}"
    assert value(metrics, "helpdesk_http_requests_total", method="GET", route=route, status="200")
    assert value(
        metrics, "helpdesk_http_requests_total", method="GET", route="unmatched", status="404"
    )
    assert value(metrics, "helpdesk_http_request_duration_seconds_count", method="GET", route=route)
    assert "process_resident_memory_bytes" in scrape.text


async def test_dead_letters_are_counted_by_original_topic_and_error_type() -> None:
    metrics = ServiceMetrics("unit")
    broker = KafkaBroker(middlewares=metrics.broker_middlewares())

    @broker.subscriber("tickets.submitted.dlq")
    async def operators(_: bytes) -> None:
        pass

    async with TestKafkaBroker(broker):
        await broker.publish(
            b"bad",
            topic="tickets.submitted.dlq",
            headers={"x-dlq-original-topic": "tickets.submitted", "x-dlq-error-type": "Boom"},
        )
        await broker.publish(b"fine", topic="tickets.submitted.dlq.not-a-dlq")

    assert (
        value(metrics, "helpdesk_dead_letters_total", topic="tickets.submitted", error_type="Boom")
        == 1.0
    )
    published = value(
        metrics,
        "faststream_published_messages_total",
        app_name="unit",
        broker="kafka",
        destination="tickets.submitted.dlq",
        status="success",
    )
    assert published == 1.0


def test_each_service_has_its_own_registry() -> None:
    first, second = ServiceMetrics("a"), ServiceMetrics("a")
    first.dead_letters.labels("t", "E").inc()
    assert (
        second.registry.get_sample_value(
            "helpdesk_dead_letters_total", {"topic": "t", "error_type": "E"}
        )
        is None
    )
