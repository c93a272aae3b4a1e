"""Retries and floods over real HTTP: Idempotency-Key replays, duplicate detection without a
key, one ticket for ten concurrent retries, and the per-account rate limit under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack.testing import bearer
from shared.mongo import Document

from .intake_samples import account, jpeg, pdf
from .intake_support import IntakeUnderTest, events_of

pytestmark = pytest.mark.integration

GOOD = {
    "category": "withdrawals",
    "subject": "Withdrawal stuck",
    "description": "My BTC withdrawal has been pending for two days.",
}


def keyed(owner: str, key: str) -> dict[str, str]:
    return bearer(owner) | {"Idempotency-Key": key}


async def test_a_retry_with_the_key_gets_the_first_answer(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner, key = account(), str(uuid4())
    first = await client.post("/v1/tickets", headers=keyed(owner, key), json=GOOD)
    again = await client.post("/v1/tickets", headers=keyed(owner, key), json=GOOD)
    assert first.status_code == again.status_code == 202
    assert again.content == first.content  # the same body, byte for byte
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    events = await events_of(intake_server, "tickets.submitted", first.json()["ticket_id"])
    assert len(events) == 1


async def test_the_same_key_for_another_request_is_422(client: httpx.AsyncClient) -> None:
    owner, key = account(), str(uuid4())
    first = await client.post("/v1/tickets", headers=keyed(owner, key), json=GOOD)
    assert first.status_code == 202
    other = GOOD | {"description": "Something else entirely happened to my account."}
    reused = await client.post("/v1/tickets", headers=keyed(owner, key), json=other)
    assert reused.status_code == 422
    problem = reused.json()
    assert problem["invalid-params"][0]["name"] == "header.Idempotency-Key"
    assert "different request" in problem["detail"]


async def test_keys_are_per_account(client: httpx.AsyncClient) -> None:
    key = str(uuid4())
    one = await client.post("/v1/tickets", headers=keyed(account(), key), json=GOOD)
    two = await client.post("/v1/tickets", headers=keyed(account(), key), json=GOOD)
    assert one.status_code == two.status_code == 202
    assert one.json()["ticket_id"] != two.json()["ticket_id"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256])
async def test_a_malformed_key_is_422(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/v1/tickets", headers=keyed(account(), key), json=GOOD)
    assert response.status_code == 422
    assert response.json()["invalid-params"][0]["name"] == "header.Idempotency-Key"


async def test_ten_concurrent_retries_make_one_ticket_and_one_event(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest, mongo: AsyncMongoClient[Document]
) -> None:
    owner, key = account(), str(uuid4())

    async def attempt() -> httpx.Response:
        return await client.post(
            "/v1/tickets",
            headers=keyed(owner, key),
            data=GOOD,
            files=[("attachments", ("receipt.pdf", pdf(), "application/pdf"))],
        )

    responses = await asyncio.gather(*(attempt() for _ in range(10)))
    assert [r.status_code for r in responses] == [202] * 10, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1  # every one the same answer
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    ticket_id = responses[0].json()["ticket_id"]
    events = await events_of(intake_server, "tickets.submitted", ticket_id)
    assert len(events) == 1
    database = mongo["intake"]
    assert await database["tickets"].count_documents({"account_id": owner}) == 1
    stored = await database["attachments.files"].count_documents({"metadata.account_id": owner})
    assert stored == 1  # the losers never stored their copy


async def test_an_identical_submission_without_a_key_is_recognised(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    photo, scan = jpeg(), pdf()

    async def send(*order: tuple[str, bytes, str]) -> httpx.Response:
        return await client.post(
            "/v1/tickets",
            headers=bearer(owner),
            data=GOOD,
            files=[("attachments", item) for item in order],
        )

    first = await send(("a.jpg", photo, "image/jpeg"), ("b.pdf", scan, "application/pdf"))
    # A double click, the files in another order and renamed: still the same request.
    second = await send(("b2.pdf", scan, "application/pdf"), ("a2.jpg", photo, "image/jpeg"))
    assert first.status_code == second.status_code == 202
    assert second.json()["ticket_id"] == first.json()["ticket_id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await events_of(intake_server, "tickets.submitted", first.json()["ticket_id"])) == 1

    different = await send(("a.jpg", photo, "image/jpeg"))  # one file fewer: another request
    assert different.json()["ticket_id"] != first.json()["ticket_id"]


async def test_a_keyed_submission_also_counts_for_keyless_duplicates(
    client: httpx.AsyncClient,
) -> None:
    owner = account()
    first = await client.post("/v1/tickets", headers=keyed(owner, str(uuid4())), json=GOOD)
    keyless = await client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    assert keyless.json()["ticket_id"] == first.json()["ticket_id"]


async def test_keys_and_duplicates_expire_through_a_ttl_index(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Document]
) -> None:
    owner, key = account(), str(uuid4())
    await client.post("/v1/tickets", headers=keyed(owner, key), json=GOOD)
    gates = mongo["intake"]["submission_gates"]
    indexes = await gates.index_information()
    assert any(
        index["key"] == [("expires_at", 1)] and index.get("expireAfterSeconds") == 0
        for index in indexes.values()
    )
    now = datetime.now(UTC)
    gate = await gates.find_one({"_id": owner})
    assert gate is not None
    (claim,) = gate["claims"]
    assert key not in str(gate)  # only its digest is kept
    assert claim["key_until"] - now > timedelta(hours=23)
    assert timedelta(minutes=9) < claim["fp_until"] - now <= timedelta(minutes=10)
    assert gate["expires_at"] - now > timedelta(hours=23)


async def test_the_rate_limit_holds_under_concurrency(client: httpx.AsyncClient) -> None:
    owner = account()

    async def submit(n: int) -> httpx.Response:
        body = GOOD | {"description": f"Request number {n}: my withdrawal is stuck."}
        return await client.post("/v1/tickets", headers=keyed(owner, f"k-{n}"), json=body)

    responses = await asyncio.gather(*(submit(n) for n in range(25)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] * 20 + [429] * 5
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.headers["content-type"] == "application/problem+json"
        assert 3500 < int(refused.headers["retry-after"]) <= 3600

    # A replay is not a new request: it is answered even now.
    accepted = next(n for n, r in enumerate(responses) if r.status_code == 202)
    replay = await submit(accepted)
    assert replay.status_code == 202
    assert replay.json() == responses[accepted].json()
    # A refused key was released: its retry is refused for the limit, not for the key.
    refused_n = next(n for n, r in enumerate(responses) if r.status_code == 429)
    assert (await submit(refused_n)).status_code == 429
    # Other accounts are not affected.
    other = await client.post("/v1/tickets", headers=bearer(account()), json=GOOD)
    assert other.status_code == 202
