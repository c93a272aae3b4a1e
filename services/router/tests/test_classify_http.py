"""POST /v1/classify over the router's HTTP app (in memory, httpx's ASGI transport): the
service token, problem+json errors, and the answer for the texts the Submit-a-request page
sends, with a stub model (the real one is measured by `make evaluate`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from router.app import build
from router.classifier.types import Prediction
from router.settings import RouterSettings
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord
from shared.settings import DEVELOPMENT_CLASSIFY_TOKEN

pytestmark = pytest.mark.unit

TOKEN = "a-classify-token-of-the-test-run-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ID_PHOTOS = ["id-front", "selfie-with-id"]

# What a model would read in each text: (keyword, team, intent, its probability).
READINGS = (
    ("withdrawal", "withdrawals-transfers", "crypto_withdrawal_pending", 0.93),
    ("2fa", "security", "disable_2fa", 0.9),
    ("accounts", "account", "several_accounts", 0.88),
)


class KeywordClassifier:
    """A stand-in model: the first keyword found decides; the rest spreads over two teams."""

    version = "keywords-1"

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return [self._one(text.lower()) for text in texts]

    def _one(self, text: str) -> Prediction:
        team, intent, p = next(
            ((t, i, p) for word, t, i, p in READINGS if word in text),
            ("technical", "app_or_website_error", 0.5),
        )
        others = [t for t in ("cards", "fees-billing") if t != team]
        rest = (1 - p) / len(others)
        ranking = ((team, p), *((t, rest) for t in others))
        return Prediction(team, intent, p, ranking, ((intent, p),))


class FakeDirectory:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        self.asked += account_ids
        accounts = {a.account_id: a for a in DEMO_ACCOUNTS}
        return {a: accounts.get(a) for a in account_ids}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    built = build(RouterSettings(model_path=Path("/nonexistent"), classify_token=SecretStr(TOKEN)))
    service = built.http.state.routing_service
    service.classifier = KeywordClassifier()
    service.directory = FakeDirectory()
    transport = httpx.ASGITransport(app=built.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://router.test") as http:
        yield http


async def classify(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        "/v1/classify", json=body, headers=AUTH if headers is None else headers
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": f"Bearer {DEVELOPMENT_CLASSIFY_TOKEN}"},  # another router's default
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
    ],
)
async def test_the_service_token_is_required(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await classify(client, {"description": "my withdrawal is stuck"}, headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "category" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"description": 42}',
        b'{"subject": "' + b"x" * 201 + b'"}',
        b'{"description": "x", "category": ["withdrawals"]}',
        b"[]",
    ],
)
async def test_a_bad_body_is_a_422_problem(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/v1/classify", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 422


async def test_a_withdrawal_goes_to_withdrawals(client: httpx.AsyncClient) -> None:
    response = await classify(
        client,
        {"subject": "Withdrawal stuck", "description": "My BTC withdrawal is pending for days"},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["team"] == "withdrawals-transfers"
    assert answer["categories"][0]["id"] == "withdrawals"
    assert answer["categories"][0]["label"] == "Withdrawals and transfers"
    assert len(answer["categories"]) <= 3
    assert sum(c["probability"] for c in answer["categories"]) <= 1.0
    assert (answer["documents"], answer["guidance"], answer["rule"]) == ([], [], None)
    assert answer["model_version"] == "keywords-1"
    assert answer["intent"] == "crypto_withdrawal_pending"


async def test_a_lost_2fa_phone_needs_the_id_photos(client: httpx.AsyncClient) -> None:
    response = await classify(client, {"description": "Please disable my 2FA, I lost my phone"})
    answer = response.json()
    assert answer["rule"] == "id-documents-2fa"
    assert answer["categories"][0]["id"] == "disable-2fa"
    assert [d["id"] for d in answer["documents"]] == ID_PHOTOS
    assert all(d["label"] for d in answer["documents"])


async def test_two_accounts_get_the_one_account_guidance(client: httpx.AsyncClient) -> None:
    body = {"description": "I have two accounts", "account_id": "acc-1001"}
    answer = (await classify(client, body)).json()
    assert answer["rule"] == "several-accounts"
    assert answer["categories"][0]["id"] == "several-accounts"
    assert [g["id"] for g in answer["guidance"]] == ["one-account"]
    assert answer["guidance"][0]["steps"]


async def test_a_corporate_account_is_exempt(client: httpx.AsyncClient) -> None:
    body = {"description": "We have two accounts for our desks", "account_id": "acc-2001"}
    answer = (await classify(client, body)).json()
    assert answer["rule"] is None
    assert answer["guidance"] == []
    assert answer["categories"][0]["id"] == "several-accounts"  # what the text is about


async def test_without_a_model_rules_and_category_still_answer() -> None:
    built = build(RouterSettings(model_path=Path("/nonexistent"), classify_token=SecretStr(TOKEN)))
    transport = httpx.ASGITransport(app=built.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://router.test") as http:
        takeover = (await classify(http, {"description": "I was hacked"})).json()
        picked = (await classify(http, {"description": "hello", "category": "cards"})).json()
    assert (takeover["team"], takeover["priority"], takeover["model_version"]) == (
        "security",
        "urgent",
        "none",
    )
    assert [c["id"] for c in takeover["categories"]] == ["unauthorised-activity"]
    assert [g["id"] for g in takeover["guidance"]] == ["never-share-credentials"]
    assert (picked["team"], picked["categories"], picked["intent"]) == ("cards", [], None)


async def test_openapi_documents_the_endpoint(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/classify"]["post"]
    assert operation["summary"]
    assert {"200", "401", "422"} <= set(operation["responses"])
    assert "ClassifyRequest" in str(operation["requestBody"])
    assert operation["security"] == [{"ClassifyToken": []}]


async def test_an_unknown_category_counts_as_no_pick(client: httpx.AsyncClient) -> None:
    body = {"description": "my withdrawal is stuck", "category": "crypto-loans"}
    response = await classify(client, body)
    assert response.status_code == 200
    assert response.json()["team"] == "withdrawals-transfers"


class HangingDirectory:
    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")


async def test_a_directory_that_does_not_answer_costs_the_exemption_not_the_answer() -> None:
    built = build(RouterSettings(model_path=Path("/nonexistent"), classify_token=SecretStr(TOKEN)))
    service = built.http.state.routing_service
    service.directory = HangingDirectory()
    service.classify_directory_timeout_seconds = 0.01
    transport = httpx.ASGITransport(app=built.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://router.test") as http:
        body = {"description": "We have two accounts", "account_id": "acc-2001"}
        answer = (await classify(http, body)).json()
    assert answer["rule"] == "several-accounts"  # not known to be corporate: no exemption
