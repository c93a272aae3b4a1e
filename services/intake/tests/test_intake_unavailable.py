"""When Kafka does not acknowledge: a prompt 503 with Retry-After; the request (or the action)
stays recorded with its event in the outbox, a retry with the same Idempotency-Key returns it
without making a copy, and the relay publishes what nobody retries — each event once.

The app is built in this process with its own database and served by uvicorn on the test's
event loop, so the test can swap the event publisher for one that fails or hangs while the
rest (MongoDB, GridFS, HTTP) stays real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devstack.stack import EmbeddedStack, free_port
from devstack.testing import bearer
from intake.ports import EventPublisher
from intake.service.delivery import EventDelivery
from intake.settings import IntakeSettings
from shared.contracts.events import Envelope
from shared.contracts.identity import Role
from shared.mongo import Document
from shared.waiting import wait_until

from .intake_samples import account, jpeg, pdf
from .intake_support import PINNED, IntakeUnderTest, events_of, serve_in_process


async def events_on(infra: EmbeddedStack, topic: str, ticket_id: str) -> list[dict[str, Any]]:
    """Every event of one ticket on `topic`, read to the end of the log as it is now."""
    server = IntakeUnderTest(url="", host="", port=0, stack=infra)
    return await events_of(server, topic, ticket_id)


pytestmark = pytest.mark.integration

GOOD = {
    "category": "verification",
    "subject": "Verification pending",
    "description": "My identity verification has been pending for a week.",
}
AGENT = bearer("agent-9", Role.AGENT)


class FailingPublisher:
    def __init__(self) -> None:
        self.calls = 0

    async def publish(self, topic: str, event: Envelope) -> None:
        self.calls += 1
        raise KafkaConnectionError("broker down")


class HangingPublisher:
    async def publish(self, topic: str, event: Envelope) -> None:
        await asyncio.sleep(3600)


class HeldPublisher:
    """Holds every publish until released: the first attempt is provably still running."""

    def __init__(self, inner: EventPublisher) -> None:
        self.inner = inner
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()
        self.published = 0

    async def publish(self, topic: str, event: Envelope) -> None:
        self.publishing.set()
        await self.release.wait()
        await self.inner.publish(topic, event)
        self.published += 1


@dataclass
class InProcess:
    client: httpx.AsyncClient
    delivery: EventDelivery
    db: AsyncDatabase[Document]


def settings_for(infra: EmbeddedStack, **overrides: Any) -> IntakeSettings:
    # The pinned limits first: explicit values win over anything exported as INTAKE_*.
    pinned = {k.removeprefix("INTAKE_").lower(): v for k, v in PINNED.items()}
    fields: dict[str, Any] = pinned | {
        "host": "127.0.0.1",
        "port": free_port(),
        "kafka_bootstrap_servers": infra.config.kafka_bootstrap,
        "kafka_enable_idempotence": infra.config.kafka_idempotence,
        "mongo_url": infra.config.mongo_url,
        "database": f"intake_test_{uuid4().hex[:10]}",
        "log_level": "WARNING",
    }
    return IntakeSettings(**(fields | overrides))


@pytest.fixture
async def app(
    infra: EmbeddedStack, mongo: AsyncMongoClient[Document], request: pytest.FixtureRequest
) -> AsyncIterator[InProcess]:
    marker = request.node.get_closest_marker("intake_settings")
    settings = settings_for(infra, **(marker.kwargs if marker else {}))
    async with (
        serve_in_process(settings) as (url, built),
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        delivery: EventDelivery = built.http.state.delivery
        yield InProcess(client, delivery, mongo[settings.database])
    await mongo.drop_database(settings.database)


async def kept(db: AsyncDatabase[Document], owner: str) -> dict[str, int]:
    gate = await db["submission_gates"].find_one({"_id": owner})
    tickets = [t async for t in db["tickets"].find({"account_id": owner})]
    return {
        "tickets": len(tickets),
        "waiting": sum(len(t.get("outbox", [])) for t in tickets),
        "files": await db["attachments.files"].count_documents({"metadata.account_id": owner}),
        "rate_slots": len((gate or {}).get("slots", [])),
    }


async def submit_with_files(app: InProcess, owner: str, key: str) -> httpx.Response:
    return await app.client.post(
        "/v1/tickets",
        headers=bearer(owner) | {"Idempotency-Key": key},
        data=GOOD,
        files=[
            ("attachments", ("id.jpg", jpeg(b"x" * 400_000), "image/jpeg")),  # two GridFS chunks
            ("attachments", ("scan.pdf", pdf(), "application/pdf")),
        ],
    )


async def test_kafka_down_is_503_the_request_is_kept_and_a_retry_publishes_it_once(
    app: InProcess, infra: EmbeddedStack
) -> None:
    owner, key = account(), str(uuid4())
    real = app.delivery.publisher
    failing = FailingPublisher()
    app.delivery.publisher = failing
    response = await submit_with_files(app, owner, key)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert "will be delivered" in response.json()["detail"]
    assert failing.calls == 1
    assert await kept(app.db, owner) == {"tickets": 1, "waiting": 1, "files": 2, "rate_slots": 1}

    # Kafka back: the client's retry with the same key publishes the same request, once.
    app.delivery.publisher = real
    retry = await submit_with_files(app, owner, key)
    assert retry.status_code == 202, retry.text
    await app.delivery.flush()  # taking it out of the outbox is deferred
    assert await kept(app.db, owner) == {"tickets": 1, "waiting": 0, "files": 2, "rate_slots": 1}
    ticket_id = retry.json()["ticket_id"]
    published = await events_on(infra, "tickets.submitted", ticket_id)
    assert len(published) == 1


@pytest.mark.intake_settings(publish_timeout_seconds=0.5, outbox_grace_seconds=0.5)
async def test_a_hung_broker_gives_a_prompt_503_and_the_relay_delivers_later(
    app: InProcess, infra: EmbeddedStack
) -> None:
    owner = account()
    real = app.delivery.publisher
    app.delivery.publisher = HangingPublisher()
    started = time.monotonic()
    response = await app.client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    assert response.status_code == 503
    assert time.monotonic() - started < 5
    app.delivery.publisher = real
    [ticket] = [t async for t in app.db["tickets"].find({"account_id": owner})]

    async def relayed() -> bool:
        return (await kept(app.db, owner))["waiting"] == 0

    await wait_until(relayed, timeout=30, what="the relay to publish the kept request")
    assert len(await events_on(infra, "tickets.submitted", ticket["_id"])) == 1


async def test_agent_and_customer_actions_are_kept_on_503(app: InProcess) -> None:
    owner = account()
    created = await app.client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    ticket_id = created.json()["ticket_id"]

    app.delivery.publisher = FailingPublisher()
    asked = await app.client.post(
        f"/v1/tickets/{ticket_id}/information-requests", headers=AGENT, json={"body": "ID?"}
    )
    assert asked.status_code == 503
    uploaded = await app.client.post(
        f"/v1/tickets/{ticket_id}/documents",
        headers=bearer(owner),
        files=[("attachments", ("id.jpg", jpeg(), "image/jpeg"))],
    )
    assert uploaded.status_code == 503
    ticket = await app.db["tickets"].find_one({"_id": ticket_id})
    assert ticket is not None
    # Both recorded: asked (new -> pending), then answered (pending -> open), both waiting.
    assert ticket["status"] == "open"
    assert [e["event_id"] for e in ticket["outbox"]] == [
        e["event_id"] for e in ticket["events"][1:]
    ]
    assert (await kept(app.db, owner))["files"] == 1  # the upload's event names it


async def test_a_retry_while_the_first_is_still_publishing_gets_the_same_request(
    app: InProcess,
) -> None:
    held = HeldPublisher(app.delivery.publisher)
    app.delivery.publisher = held
    owner, key = account(), str(uuid4())
    headers = bearer(owner) | {"Idempotency-Key": key}
    first = asyncio.create_task(app.client.post("/v1/tickets", headers=headers, json=GOOD))
    await asyncio.wait_for(held.publishing.wait(), timeout=10)
    # Recorded (in its outbox) before the first publishes: the retry answers with it at once.
    second = await app.client.post("/v1/tickets", headers=headers, json=GOOD)
    held.release.set()
    assert second.status_code == 202
    assert second.headers["idempotent-replayed"] == "true"
    assert (await first).status_code == 202
    assert second.json()["ticket_id"] == (await first).json()["ticket_id"]
    assert held.published == 1  # the retry left the publishing to the first


@pytest.mark.intake_settings(duplicate_window_seconds=1)
async def test_duplicates_are_recognised_only_within_the_window(app: InProcess) -> None:
    owner = account()
    first = await app.client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    again = await app.client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    assert again.json()["ticket_id"] == first.json()["ticket_id"]

    async def answered_anew() -> httpx.Response | None:
        later = await app.client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
        return later if later.json()["ticket_id"] != first.json()["ticket_id"] else None

    # within the window every retry is the first ticket; once it has passed, a new one
    later = await wait_until(answered_anew, timeout=10, what="the window to pass", interval=0.2)
    assert later.status_code == 202


@pytest.mark.intake_settings(duplicate_window_seconds=0)
async def test_a_zero_window_turns_the_duplicate_check_off(app: InProcess) -> None:
    owner = account()
    first = await app.client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    again = await app.client.post("/v1/tickets", headers=bearer(owner), json=GOOD)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["ticket_id"] != first.json()["ticket_id"]
    # an Idempotency-Key still makes a retry return the first answer
    keyed = bearer(owner) | {"Idempotency-Key": str(uuid4())}
    once = await app.client.post("/v1/tickets", headers=keyed, json=GOOD)
    twice = await app.client.post("/v1/tickets", headers=keyed, json=GOOD)
    assert twice.json()["ticket_id"] == once.json()["ticket_id"]


@pytest.mark.intake_settings(rate_limit_tickets=2, rate_limit_window_seconds=2)
async def test_a_slot_frees_when_the_window_passes(app: InProcess) -> None:
    owner = account()

    async def submit(n: int) -> httpx.Response:
        body = GOOD | {"subject": f"Request {n}"}
        return await app.client.post("/v1/tickets", headers=bearer(owner), json=body)

    assert [(await submit(n)).status_code for n in range(3)] == [202, 202, 429]
    refused = await submit(3)
    assert refused.headers["retry-after"] in ("1", "2")
    started = time.monotonic()

    async def accepted() -> bool:
        return (await submit(4)).status_code == 202

    await wait_until(accepted, timeout=10, what="a freed slot", interval=0.2)
    # not before the window had passed: the refusal's Retry-After was honest
    assert time.monotonic() - started >= int(refused.headers["retry-after"]) - 1
