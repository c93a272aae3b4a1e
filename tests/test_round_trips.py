"""Store round trips per operation, counted with PyMongo's command monitoring and pinned: the
embedded MongoDB is the main cost on one machine, so a change that adds a round trip to a
submission, a status change, a routed event in history or a mail sent fails here (and the
README's table says what each one is).

Each service is built as in production (its `build()`), on the session's MongoDB, with its
broker under FastStream's TestKafkaBroker (in memory: this counts the store, not Kafka).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

import history.app
import intake.app
import notifier.app
from devstack.stack import EmbeddedStack
from devstack.testing import bearer
from history.settings import HistorySettings
from intake.service.delivery import EventDelivery
from intake.settings import IntakeSettings
from notifier.settings import NotifierSettings
from shared.contracts.events import (
    AgentReplied,
    Envelope,
    Priority,
    TicketRouted,
    TicketSubmitted,
    new_ticket_id,
)
from shared.contracts.identity import Role
from shared.contracts.topics import Topics
from shared.kafka.publishing import event_headers
from shared.mongo import RoundTrips, create_mongo_client
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

TOPICS = Topics()
CUSTOMER = "acc-1001"


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    """Every client the services build counts its commands here."""
    counter = RoundTrips()

    def counted(settings: ServiceSettings, app_name: str) -> Any:
        return create_mongo_client(settings, app_name, listeners=[counter])

    for module in (intake.app, history.app, notifier.app):
        monkeypatch.setattr(module, "create_mongo_client", counted)
    return counter


def common(infra: EmbeddedStack) -> dict[str, Any]:
    return {"mongo_url": infra.config.mongo_url, "database": f"trips_{uuid4().hex[:8]}"}


async def publish(broker: KafkaBroker, topic: str, event: Envelope) -> None:
    await broker.publish(
        event.model_dump_json().encode(),
        topic=topic,
        key=event.ticket_id.encode(),
        headers=event_headers(event),
    )


def routed(ids: dict[str, str]) -> TicketRouted:
    return TicketRouted(
        **ids,
        team="cards",
        priority=Priority.NORMAL,
        confidence=0.9,
        customer_category="cards",
        reason="model",
        model_version="m",
    )


@dataclass
class IntakeApi:
    client: httpx.AsyncClient
    broker: KafkaBroker
    delivery: EventDelivery


@pytest.fixture
async def intake_api(infra: EmbeddedStack, trips: RoundTrips) -> AsyncIterator[IntakeApi]:
    settings = IntakeSettings(**common(infra), outbox_relay_interval_seconds=3600)
    built = intake.app.build(settings)
    async with TestKafkaBroker(built.broker) as broker:
        transport = httpx.ASGITransport(app=built.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield IntakeApi(client, broker, built.http.state.delivery)


def card(n: int = 0) -> dict[str, str]:
    return {"category": "cards", "subject": f"Card {n}", "description": "My card has not arrived."}


async def test_a_submission(intake_api: IntakeApi, trips: RoundTrips) -> None:
    trips.take()
    response = await intake_api.client.post(
        "/v1/tickets", headers=bearer(CUSTOMER) | {"Idempotency-Key": uuid4().hex}, json=card()
    )
    assert response.status_code == 202, response.text
    await intake_api.delivery.flush()
    assert trips.take() == [*SUBMISSION, OUTBOX_CLEARED]


async def test_concurrent_submissions_share_their_outbox_clears(
    intake_api: IntakeApi, trips: RoundTrips
) -> None:
    trips.take()
    count = 16
    responses = await asyncio.gather(
        *(
            intake_api.client.post(
                "/v1/tickets", headers=bearer(f"acc-{uuid4().hex[:12]}"), json=card(n)
            )
            for n in range(count)
        )
    )
    assert {r.status_code for r in responses} == {202}
    await intake_api.delivery.flush()
    commands = Counter(trips.take())
    assert commands.pop(OUTBOX_CLEARED) <= count // 4  # one bulk write for all queued meanwhile
    assert commands == Counter(SUBMISSION * count)


async def test_a_status_change(intake_api: IntakeApi, trips: RoundTrips) -> None:
    client, broker = intake_api.client, intake_api.broker
    response = await client.post(
        "/v1/tickets",
        headers=bearer(CUSTOMER),
        json={"category": "cards", "subject": "Card", "description": "My card has not arrived."},
    )
    ticket_id = response.json()["ticket_id"]
    await publish(
        broker,
        TOPICS.routed,
        routed({"ticket_id": ticket_id, "account_id": CUSTOMER, "correlation_id": "c"}),
    )
    await intake_api.delivery.flush()
    trips.take()
    response = await client.post(
        f"/v1/tickets/{ticket_id}/status",
        headers=bearer("agent-1", Role.AGENT) | {"Idempotency-Key": uuid4().hex},
        json={"status": "on-hold"},
    )
    assert response.status_code == 202, response.text
    await intake_api.delivery.flush()
    assert trips.take() == STATUS_CHANGE


async def test_a_routed_event_in_history(infra: EmbeddedStack, trips: RoundTrips) -> None:
    built = history.app.build(HistorySettings(**common(infra)))
    ids = {"ticket_id": new_ticket_id(), "account_id": CUSTOMER, "correlation_id": "c"}
    async with TestKafkaBroker(built.broker) as broker:
        await publish(
            broker,
            TOPICS.submitted,
            TicketSubmitted(**ids, category="cards", subject="s", description="d"),
        )
        trips.take()
        await publish(broker, TOPICS.routed, routed(ids))
    assert trips.take() == ROUTED_IN_HISTORY


async def test_a_mail_sent(infra: EmbeddedStack, trips: RoundTrips) -> None:
    settings = NotifierSettings(
        **common(infra), smtp_host=infra.config.host, smtp_port=infra.config.ports.smtp
    )
    built = notifier.app.build(settings)
    ids = {"ticket_id": new_ticket_id(), "account_id": CUSTOMER, "correlation_id": "c"}
    async with TestKafkaBroker(built.broker) as broker:
        await publish(
            broker,
            TOPICS.submitted,
            TicketSubmitted(**ids, category="cards", subject="s", description="d"),
        )
        trips.take()
        await publish(broker, TOPICS.activity, AgentReplied(**ids, agent_id="a", body="Done."))
    assert trips.take() == MAIL_SENT


# What each operation asks of the store, in order ("<command> <collection>"). Each line is
# one round trip; the README's table lists them.
SUBMISSION = [
    "find submission_gates",  # the account's slots and claims: the key or content recognised?
    # a claim and a rate-limit slot taken in one write (an update, compare-and-set on the
    # version, for an account's later submissions)
    "insert submission_gates",
    "insert tickets",  # the request's record with its event in the outbox (and its answer)
]
# Kafka acknowledged: out of the outbox, deferred; the clears queued meanwhile go in one write.
OUTBOX_CLEARED = "update tickets"
STATUS_CHANGE = [
    "insert idempotency",  # claim the Idempotency-Key
    "find tickets",  # the record: status, team, recorded events
    "update tickets",  # the change (compare-and-set) with its event in the outbox
    "update idempotency",  # the answer, for a retry
    OUTBOX_CLEARED,
]
ROUTED_IN_HISTORY = [
    "find requests",  # the views the batch touches
    "update timers",  # the plans that changed (the time rules' timers)
    "update requests",  # the views, each over the version it was read at
]
MAIL_SENT = [
    "find requests",  # the batch's requests' languages
    "find accounts",  # the batch's directory records (the only addresses)
    "insert notifications",  # claim the batch's notifications in the ledger
    "update notifications",  # mark it sent
]
