"""The router as a real process on the embedded stack, with the trained model: events put
straight onto `tickets.submitted` in one batch come out on the right `team.<team>` topics with
their decisions (model reroute, customer's pick kept, policy rule)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from devstack.stack import EmbeddedStack
from devstack.testing import read_topic
from router.domain.routing import NO_MODEL_VERSION
from shared.contracts.events import TicketSubmitted, new_ticket_id

pytestmark = pytest.mark.integration

DEADLINE = 20.0


def submitted(category: str, subject: str, description: str) -> TicketSubmitted:
    return TicketSubmitted(
        ticket_id=new_ticket_id(),
        account_id="acc-1002",
        correlation_id="router-integration",
        category=category,
        subject=subject,
        description=description,
    )


async def assigned(stack: EmbeddedStack, event: TicketSubmitted, team: str) -> dict[str, Any]:
    found = await read_topic(
        stack.config.kafka_bootstrap,
        f"team.{team}",
        lambda e: e.get("ticket_id") == event.ticket_id,
        timeout=DEADLINE,
    )
    return found[0]


async def test_a_batch_is_classified_and_forwarded_to_team_topics(services: EmbeddedStack) -> None:
    wrong_pick = submitted(
        "trading", "Withdrawal stuck", "My BTC withdrawal has been pending for two days."
    )
    right_pick = submitted(
        "cards", "Card not arrived", "I ordered a new card three weeks ago and it never came."
    )
    takeover = submitted(
        "unauthorised-activity",
        "Account hacked",
        "Someone hacked my account and changed my password, I did not do this.",
    )
    producer = AIOKafkaProducer(bootstrap_servers=services.config.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in (wrong_pick, right_pick, takeover):
            await producer.send(
                "tickets.submitted",
                event.model_dump_json().encode(),
                key=event.ticket_id.encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()

    rerouted = await assigned(services, wrong_pick, "withdrawals-transfers")
    assert rerouted["reason"] == "model"
    assert rerouted["rerouted_from"] == "trading-exchange"
    assert rerouted["model_version"] != NO_MODEL_VERSION  # the trained model, not the fallback
    assert rerouted["confidence"] >= 0.9
    assert [r["team"] for r in rerouted["runner_up"]], "the decision names the runner-up teams"

    kept = await assigned(services, right_pick, "cards")
    assert kept["reason"] == "customer_category"
    assert kept["rerouted_from"] is None

    urgent = await assigned(services, takeover, "security")
    assert urgent["reason"] == "rule:account-takeover"
    assert urgent["priority"] == "urgent"
