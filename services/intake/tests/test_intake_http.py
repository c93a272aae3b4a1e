"""The intake over real HTTP, publishing to a real Kafka protocol broker."""

from __future__ import annotations

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_topic
from shared.auth import Role

pytestmark = pytest.mark.integration

GOOD = {"category": "cards", "subject": "Card not here", "description": "Ordered three weeks ago."}


@pytest.fixture
async def intake(services: EmbeddedStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=services.config.url("intake"), timeout=10)


async def test_accepted_only_after_the_event_is_on_kafka(
    intake: httpx.AsyncClient, services: EmbeddedStack
) -> None:
    response = await intake.post("/v1/tickets", headers=bearer("acc-1002"), json=GOOD)
    assert response.status_code == 202
    ticket_id = response.json()["ticket_id"]
    events = await read_topic(
        services.config.kafka_bootstrap,
        "tickets.submitted",
        lambda e: e.get("ticket_id") == ticket_id,
        timeout=5,
    )
    assert events[0]["account_id"] == "acc-1002"  # from the token, never from the body
    assert events[0]["_headers"]["event_type"] == b"TicketSubmitted"


async def test_body_cannot_choose_the_account(
    intake: httpx.AsyncClient, services: EmbeddedStack
) -> None:
    response = await intake.post(
        "/v1/tickets",
        headers=bearer("acc-1002"),
        json=GOOD | {"account_id": "acc-1001", "email": "x@evil.example"},
    )
    ticket_id = response.json()["ticket_id"]
    events = await read_topic(
        services.config.kafka_bootstrap,
        "tickets.submitted",
        lambda e: e.get("ticket_id") == ticket_id,
        timeout=5,
    )
    assert events[0]["account_id"] == "acc-1002"
    assert "x@evil.example" not in str(events[0])


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer not-a-jwt"}, 401)],
    ids=["no-token", "garbage-token"],
)
async def test_unauthenticated(
    intake: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    response = await intake.post("/v1/tickets", headers=headers, json=GOOD)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_customers_submit(intake: httpx.AsyncClient) -> None:
    response = await intake.post("/v1/tickets", headers=bearer("agent-1", Role.AGENT), json=GOOD)
    assert response.status_code == 403


async def test_validation_errors_name_the_fields(intake: httpx.AsyncClient) -> None:
    response = await intake.post(
        "/v1/tickets",
        headers=bearer("acc-1001"),
        json={"category": "nope", "subject": "", "description": "short"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {p["name"] for p in problem["invalid-params"]} == {
        "body.category",
        "body.subject",
        "body.description",
    }


async def test_malformed_json_is_a_4xx_not_a_500(intake: httpx.AsyncClient) -> None:
    response = await intake.post(
        "/v1/tickets",
        headers=bearer("acc-1001") | {"Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
