"""The intake over real HTTP, publishing to a real Kafka protocol broker: the JSON submission,
who may call what, and validation."""

from __future__ import annotations

import httpx
import pytest

from devstack.testing import bearer
from shared.contracts.identity import Role

from .intake_samples import account
from .intake_support import IntakeUnderTest, events_of, raw_exchange
from .intake_tokens import bad_tokens

pytestmark = pytest.mark.integration

GOOD = {"category": "cards", "subject": "Card not here", "description": "Ordered three weeks ago."}
BAD_TOKENS = bad_tokens()


async def test_accepted_only_after_the_event_is_on_kafka(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    response = await client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "new"
    assert body["attachments"] == []
    events = await events_of(intake_server, "tickets.submitted", body["ticket_id"])
    assert len(events) == 1
    assert events[0]["account_id"] == owner  # from the token, never from the body
    assert events[0]["category"] == "cards"


async def test_body_cannot_choose_the_account(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    response = await client.post(
        "/v1/tickets",
        headers=bearer(owner),
        json=GOOD | {"account_id": "acc-1001", "email": "x@evil.example"},
    )
    assert response.status_code == 202
    (event,) = await events_of(intake_server, "tickets.submitted", response.json()["ticket_id"])
    assert event["account_id"] == owner
    assert "x@evil.example" not in str(event)


@pytest.mark.parametrize("reason", list(BAD_TOKENS))
async def test_bad_tokens_are_401(client: httpx.AsyncClient, reason: str) -> None:
    response = await client.post("/v1/tickets", headers=BAD_TOKENS[reason], json=GOOD)
    assert response.status_code == 401, reason
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_bad_tokens_are_401_on_agent_endpoints_too(client: httpx.AsyncClient) -> None:
    for reason in ("none-alg", "expired", "wrong-audience"):
        response = await client.post(
            "/v1/tickets/AAAA-BBBB-CCCC/status",
            headers=BAD_TOKENS[reason],
            json={"status": "closed"},
        )
        assert response.status_code == 401, reason


async def test_only_customers_submit(client: httpx.AsyncClient) -> None:
    for role in (Role.AGENT, Role.DASHBOARD):
        response = await client.post("/v1/tickets", headers=bearer("staff-1", role), json=GOOD)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"


async def test_validation_errors_name_the_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()),
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


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": "x" * 201}, "body.subject"),
        ({"description": "x" * 9}, "body.description"),
        ({"description": "x" * 20_001}, "body.description"),
        ({"category": "Cards"}, "body.category"),
        ({"locale": "english"}, "body.locale"),
        ({"subject": None}, "body.subject"),
    ],
)
async def test_each_limit(client: httpx.AsyncClient, change: dict[str, object], field: str) -> None:
    response = await client.post("/v1/tickets", headers=bearer(account()), json=GOOD | change)
    assert response.status_code == 422
    assert [p["name"] for p in response.json()["invalid-params"]] == [field]


async def test_the_limits_themselves_are_accepted(client: httpx.AsyncClient) -> None:
    edge = {"subject": "x" * 200, "description": "y" * 20_000}
    response = await client.post("/v1/tickets", headers=bearer(account()), json=GOOD | edge)
    assert response.status_code == 202, response.text


async def test_malformed_json_is_a_4xx_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()) | {"Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_other_body_types_are_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()) | {"Content-Type": "application/xml"},
        content=b"<ticket/>",
    )
    assert response.status_code == 415
    assert response.json()["invalid-params"][0]["name"] == "header.Content-Type"


async def test_an_oversized_json_body_is_413_before_it_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()) | {"Content-Type": "application/json"},
        content=b'{"description": "' + b"x" * 300_000 + b'"}',
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_oversized_chunked_body_is_cut_off_at_the_cap(
    intake_server: IntakeUnderTest,
) -> None:
    """No Content-Length to judge by: the body is counted as it comes, and the answer comes
    once it passes the cap (we send one byte more and then nothing)."""
    cap = 256 * 1024
    head = (
        f"POST /v1/tickets/AAAA-BBBB-CCCC/comments HTTP/1.1\r\n"
        f"Host: {intake_server.host}\r\nAuthorization: {bearer(account())['Authorization']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b'{"body": "' + b"x" * (cap + 1 - 10)
    status, answer = await raw_exchange(
        intake_server, head, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    )
    assert status == 413
    assert b'"name":"body"' in answer


async def test_categories_for_every_role(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/categories", headers=bearer("agent-1", Role.AGENT))
    assert response.status_code == 200
    flagged = {c["id"] for c in response.json() if c["requires_id_documents"]}
    assert flagged == {"disable-2fa", "disable-wpc", "change-email"}
    assert (await client.get("/v1/categories")).status_code == 401


async def test_id_document_categories_are_flagged_without_photos(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()),
        json={
            "category": "disable-2fa",
            "subject": "Lost my phone",
            "description": "I lost the phone with my authenticator app.",
        },
    )
    assert response.status_code == 202
    assert response.json()["required_documents_missing"] is True
    (event,) = await events_of(intake_server, "tickets.submitted", response.json()["ticket_id"])
    assert event["required_documents_missing"] is True
