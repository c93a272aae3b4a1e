"""Suggestions over real HTTP, the router a real HTTP peer (a stub answering from keywords):
the customer's view of a classification, and nothing — quickly — when the router is slow."""

from __future__ import annotations

import time

import httpx
import pytest

from devstack.testing import bearer
from shared.contracts.identity import Role

from .intake_samples import account

pytestmark = pytest.mark.integration


async def test_a_withdrawal_text_suggests_the_withdrawals_category(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        "/v1/tickets/suggestions",
        headers=bearer(account()),
        json={"subject": "Money", "description": "My withdrawal is pending", "category": "trading"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["available"] is True
    assert body["suggested_category"] == {"id": "withdrawals", "label": "Withdrawals and transfers"}
    assert "withdrawals-transfers" not in answer.text  # no team names for customers
    assert "0.9" not in answer.text  # no probabilities


async def test_a_2fa_text_names_the_documents_in_the_customers_language(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        "/v1/tickets/suggestions",
        headers=bearer(account()) | {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"},
        json={"subject": "2FA", "description": "Please disable my 2FA, I lost my phone"},
    )
    body = answer.json()
    assert [d["id"] for d in body["documents"]] == ["id-front", "selfie-with-id"]
    english = "A photo of the front of your ID document"
    assert not body["documents"][0]["label"].startswith(english)  # German


async def test_a_slow_router_is_no_suggestion_within_the_timeout(
    client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    answer = await client.post(
        "/v1/tickets/suggestions",
        headers=bearer(account()),
        json={"subject": "Hello", "description": "please answer slowly, I can wait"},
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "available": False,
        "suggested_category": None,
        "categories": [],
        "documents": [],
        "guidance": [],
    }
    assert time.monotonic() - started < 4  # the stub takes 5 s; the intake waited 0.5


async def test_suggestions_are_for_signed_in_customers(client: httpx.AsyncClient) -> None:
    body = {"subject": "Withdrawal", "description": "pending for days"}
    assert (await client.post("/v1/tickets/suggestions", json=body)).status_code == 401
    agent = bearer("agent-1", Role.AGENT)
    assert (
        await client.post("/v1/tickets/suggestions", headers=agent, json=body)
    ).status_code == 403
    bad = await client.post(
        "/v1/tickets/suggestions", headers=bearer(account()), json={"subject": 5}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
