"""Every service serves Prometheus metrics at /metrics, and after traffic (one request through
HTTP, one poison record on tickets.submitted) the series an operator watches are there:
messages consumed and published, handler latency, consumer lag, dead letters, routing decisions,
e-mail outcomes, HTTP requests and the process's memory.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from devstack.stack import SERVICES, EmbeddedStack
from devstack.testing import bearer
from shared.contracts.topics import Topics
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

DEADLINE = 30.0

EVERY_SERVICE = (
    "faststream_published_messages_total",
    "helpdesk_http_requests_total",
    "helpdesk_http_request_duration_seconds_bucket",
    "process_resident_memory_bytes",
)
CONSUMERS = (
    "faststream_received_messages_total",
    "faststream_received_processed_messages_total",
    "faststream_received_processed_messages_duration_seconds_bucket",
    "helpdesk_consumer_lag",
    "helpdesk_dead_letters_total",
)
EXPECTED: dict[str, tuple[str, ...]] = {
    "intake": EVERY_SERVICE,
    "router": (*EVERY_SERVICE, *CONSUMERS, "helpdesk_routing_decisions_total"),
    "notifier": (*EVERY_SERVICE, *CONSUMERS, "helpdesk_emails_total"),
    "history": (*EVERY_SERVICE, *CONSUMERS),
}


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


async def scrape(client: httpx.AsyncClient, url: str) -> list[Sample]:
    response = await client.get(f"{url}/metrics")
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_every_service_exposes_its_series_after_traffic(services: EmbeddedStack) -> None:
    config = services.config
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{config.url('intake')}/v1/tickets",
            headers=bearer("acc-1001"),
            json={
                "category": "cards",
                "subject": "Card not delivered",
                "description": "My debit card was posted three weeks ago and has not arrived.",
            },
        )
        assert response.status_code == 202, response.text

        # A record that is not an event: each consumer of the topic dead-letters it.
        producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                Topics(config.topic_prefix).submitted,
                b"not json",
                key=f"metrics-poison-{uuid.uuid4()}".encode(),
            )
        finally:
            await producer.stop()

        for service in SERVICES:
            url = config.url(service)

            async def complete(url: str = url, service: str = service) -> list[Sample] | None:
                found = await scrape(client, url)
                names = {s.name for s in found}
                return found if set(EXPECTED[service]) <= names else None

            try:
                found = await wait_until(complete, timeout=DEADLINE, what=f"{service}'s series")
            except TimeoutError:
                names = {s.name for s in await scrape(client, url)}
                missing = sorted(set(EXPECTED[service]) - names)
                pytest.fail(f"{service} lacks {missing}")

            by_name = {s.name: s for s in found}
            assert by_name["process_resident_memory_bytes"].value > 0
            routes = {s.labels["route"] for s in found if s.name == "helpdesk_http_requests_total"}
            assert "/readyz" in routes, service
            if service == "intake":
                published = [
                    s
                    for s in found
                    if s.name == "faststream_published_messages_total"
                    and s.labels["destination"] == "tickets.submitted"
                ]
                assert published
                assert published[0].value >= 1
                assert "/v1/tickets" in routes
            if service in ("router", "notifier", "history"):
                dead = [s for s in found if s.name == "helpdesk_dead_letters_total"]
                assert Topics(config.topic_prefix).submitted in {s.labels["topic"] for s in dead}, (
                    service
                )
            if service == "router":
                decisions = [s for s in found if s.name == "helpdesk_routing_decisions_total"]
                assert {"team", "reason", "rerouted"} <= set(decisions[0].labels)
            if service == "notifier":
                outcomes = {s.labels["outcome"] for s in found if s.name == "helpdesk_emails_total"}
                assert "sent" in outcomes
