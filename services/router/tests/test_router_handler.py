"""The router's Kafka handler in memory (FastStream's TestKafkaBroker): one batch in, the
team topic and tickets.routed out, poison to the DLQ without stopping the rest."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from router.app import build
from router.classifier.types import Prediction
from router.settings import RouterSettings
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord
from shared.contracts.events import (
    Envelope,
    NoteAdded,
    RequestContent,
    RoutingDecision,
    TicketSubmitted,
    TicketTransferred,
    Transfer,
    new_ticket_id,
)
from shared.kafka.context import raw_body
from shared.kafka.publishing import event_headers

pytestmark = pytest.mark.unit


class FakeDirectory:
    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        accounts = {a.account_id: a for a in DEMO_ACCOUNTS}
        return {a: accounts.get(a) for a in account_ids}


class StubClassifier:
    version = "stub-1"

    def __init__(self, team: str, confidence: float) -> None:
        self.team, self.confidence = team, confidence

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        rest = (1 - self.confidence) / 2
        ranking = ((self.team, self.confidence), ("cards", rest), ("account", rest))
        return [Prediction(self.team, "pending_transfer", self.confidence, ranking) for _ in texts]


def submitted(category: str, description: str) -> TicketSubmitted:
    return TicketSubmitted(
        ticket_id=new_ticket_id(),
        account_id="acc-1001",
        correlation_id="c",
        category=category,
        subject="Help",
        description=description,
    )


async def run_router(
    messages: Sequence[bytes | Envelope], classifier: StubClassifier | None
) -> dict[str, list[Any]]:
    built = build(RouterSettings(model_path=Path("/nonexistent")))
    built.http.state.routing_service.classifier = classifier
    built.http.state.routing_service.directory = FakeDirectory()
    seen: dict[str, list[Any]] = {}

    def capture_into(topic: str) -> Callable[[Any], Awaitable[None]]:
        async def capture(received: Any) -> None:
            # Under the FastAPI integration a bytes body arrives as the message itself.
            seen.setdefault(topic, []).append(getattr(received, "body", received))

        return capture

    for topic in (
        "tickets.routed",
        "team.withdrawals-transfers",
        "team.trading-exchange",
        "team.security",
        "team.account",
        "team.cards",
        "tickets.submitted.dlq",
        "tickets.activity.dlq",
    ):
        built.broker.subscriber(topic, decoder=raw_body)(capture_into(topic))

    async with TestKafkaBroker(built.broker) as broker:
        for message in messages:
            if isinstance(message, Envelope):
                topic = (
                    "tickets.submitted"
                    if isinstance(message, TicketSubmitted)
                    else "tickets.activity"
                )
                await broker.publish(
                    message.model_dump_json().encode(),
                    topic=topic,
                    headers=event_headers(message),
                )
            else:
                await broker.publish(message, topic="tickets.submitted")
    return seen


async def test_a_confident_model_reroutes_a_wrong_pick() -> None:
    ticket = submitted("trading", "My BTC withdrawal is pending for two days")
    seen = await run_router([ticket], StubClassifier("withdrawals-transfers", 0.99))
    assert len(seen["team.withdrawals-transfers"]) == 1
    assert b"trading-exchange" in seen["tickets.routed"][0]  # rerouted_from
    assert b'"reason":"model"' in seen["tickets.routed"][0]
    assert b'"model_version":"stub-1"' in seen["tickets.routed"][0]


async def test_without_a_model_the_customer_category_decides() -> None:
    seen = await run_router([submitted("trading", "Limit order not filled")], None)
    assert len(seen["team.trading-exchange"]) == 1
    assert b'"reason":"customer_category"' in seen["tickets.routed"][0]


async def test_rules_win_and_poison_is_dead_lettered_alone() -> None:
    takeover = submitted("trading", "Someone hacked my account and withdrew everything")
    seen = await run_router([b"not json at all", takeover], StubClassifier("trading-exchange", 0.9))
    assert seen["tickets.submitted.dlq"] == [b"not json at all"]
    assert len(seen["team.security"]) == 1
    assert b'"priority":"urgent"' in seen["team.security"][0]
    assert b'"reason":"rule:account-takeover"' in seen["tickets.routed"][0]


async def test_a_corporate_account_is_exempt_from_the_several_accounts_rule() -> None:
    text = "I have two accounts and want to merge my balances into one"
    person = submitted("account", text)
    corporate = submitted("account", text).model_copy(update={"account_id": "acc-2001"})
    seen = await run_router([person, corporate], None)
    routed = {e.split(b'"ticket_id":"')[1][:14]: e for e in seen["tickets.routed"]}
    person_decision = routed[person.ticket_id.encode()]
    corporate_decision = routed[corporate.ticket_id.encode()]
    assert b'"reason":"rule:several-accounts"' in person_decision
    assert b"several_accounts" in person_decision
    assert b"rule:several-accounts" not in corporate_decision
    assert b"several_accounts" not in corporate_decision


async def test_a_decision_names_the_documents_a_request_lacks() -> None:
    reset = submitted("account", "I lost my phone, please reset my 2FA")
    flagged = submitted("change-email", "Someone hacked my account and changed my e-mail")
    flagged = flagged.model_copy(update={"required_documents_missing": True})
    plain = submitted("withdrawals", "My withdrawal is pending")
    seen = await run_router([reset, flagged, plain], None)
    routed = {d["ticket_id"]: d for d in map(json.loads, seen["tickets.routed"])}
    assert routed[reset.ticket_id]["required_documents_missing"] is True
    assert routed[reset.ticket_id]["required_documents"] == ["id-front", "selfie-with-id"]
    # moved to security by the takeover rule, which needs none: the picked category's
    # documents left with the pick (the intake's flag was about that category)
    assert routed[flagged.ticket_id]["reason"] == "rule:account-takeover"
    assert routed[flagged.ticket_id]["required_documents"] == []
    assert routed[flagged.ticket_id]["priority"] == "urgent"
    assert routed[plain.ticket_id]["required_documents_missing"] is False
    assert routed[plain.ticket_id]["required_documents"] == []


async def test_a_transfer_hands_the_whole_request_over_and_withdraws_it() -> None:
    ticket = submitted("trading", "My card was charged twice for one order")
    moved = TicketTransferred(
        ticket_id=ticket.ticket_id,
        account_id=ticket.account_id,
        correlation_id="c",
        transfer=Transfer(
            from_team="trading-exchange", to_team="cards", reason="a card charge", agent_id="a-1"
        ),
        request=RequestContent(
            category=ticket.category,
            subject=ticket.subject,
            description=ticket.description,
            submitted_at=ticket.occurred_at,
        ),
        decision=RoutingDecision(
            team="trading-exchange",
            confidence=0.6,
            customer_category="trading",
            customer_team="trading-exchange",
            reason="customer_category",
            model_version="m",
        ),
        status="open",
    )
    note = NoteAdded(
        ticket_id=ticket.ticket_id,
        account_id=ticket.account_id,
        correlation_id="c",
        agent_id="a-1",
        body="not for the router",
    )
    seen = await run_router([note, moved, moved], None)  # redelivered: handed over again
    assigned = [json.loads(m) for m in seen["team.cards"]]
    withdrawn = [json.loads(m) for m in seen["team.trading-exchange"]]
    assert {a["event_id"] for a in assigned} == {assigned[0]["event_id"]}  # one id: one hand-over
    assert assigned[0]["event_type"] == "TicketAssigned"
    assert assigned[0]["description"] == ticket.description
    assert assigned[0]["transfer"]["reason"] == "a card charge"
    assert (assigned[0]["team"], assigned[0]["rerouted_from"]) == ("cards", "trading-exchange")
    assert withdrawn[0]["event_type"] == "TicketWithdrawn"
    assert withdrawn[0]["team"] == "trading-exchange"
    assert "tickets.activity.dlq" not in seen  # the note is not poison, just not ours
