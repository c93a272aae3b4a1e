"""Each audience reads its own: a request that went through everything internal (an urgent
rule decision with its confidence and explanation, a note, an assignment, a transfer, e-mail
records) is read by its owner through the JSON API and the page, and by an agent. Each hidden
field has its own test case, so one that leaks names itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer
from history.adapters.mongo import MongoRequestRepository
from history.app import build
from history.service import HistoryService
from history.settings import HistorySettings
from shared.contracts.events import (
    AgentReplied,
    AssigneeChanged,
    CustomerReminded,
    Envelope,
    NoteAdded,
    NotificationFailed,
    NotificationKind,
    NotificationSent,
    Priority,
    RequestContent,
    RoutingDecision,
    SlaBreached,
    SlaMetric,
    StatusChanged,
    StatusTransition,
    TeamScore,
    TicketRouted,
    TicketSubmitted,
    TicketTransferred,
    Transfer,
    new_ticket_id,
)
from shared.contracts.identity import Role
from shared.contracts.statuses import Status

from .test_history_projection import T0

pytestmark = pytest.mark.integration

OWNER = "acc-1001"
BASE_URL = "http://history.test"

# What only agents may read, as it would show if it leaked (each is in the request's events).
HIDDEN = {
    "team name": "withdrawals-transfers",
    "another team's name": "security",
    "model confidence": "0.8731",
    "runner-up team": "payments-deposits",
    "priority": "urgent",
    "routing reason": "rule:account-takeover",
    "policy rule text": "Account-takeover or fraud signals",
    "internal note": "Customer sounds like a scammer",
    "assignee": "agent-9",
    "transfer reason": "Actually a stuck withdrawal",
    "e-mail delivery record": "mailbox full 550",
    "e-mail kind": "acknowledgement",
    "agent id": "agent-4",
    "SLA clock": "target_seconds",
    "automation rule": "remind-pending",
    "automation's note": "no answer for 7 days",
}
PUBLIC = {
    "their words": "Please help, my account",
    "a public reply": "We are on it",
    "a reminder": "We reminded you that we are waiting for your reply",
}


def story() -> list[Envelope]:
    ids = {"ticket_id": new_ticket_id(), "account_id": OWNER, "correlation_id": "c"}
    at = T0
    decision = RoutingDecision(
        team="security",
        intent="compromised_card",
        confidence=0.8731,
        priority=Priority.URGENT,
        customer_category="withdrawals",
        customer_team="withdrawals-transfers",
        rerouted_from="withdrawals-transfers",
        reason="rule:account-takeover",
        explanation="Account-takeover or fraud signals: security, urgently",
        model_version="m",
        runner_up=(TeamScore(team="payments-deposits", probability=0.1),),
    )
    submitted = TicketSubmitted(
        **ids,
        occurred_at=at,
        category="withdrawals",
        subject="Please help, my account",
        description="Please help, my account was hacked and my withdrawal is stuck.",
    )
    second = timedelta(seconds=1)
    return [
        submitted,
        TicketRouted(**ids, occurred_at=at + second, **decision.model_dump()),
        NotificationSent(
            **ids,
            occurred_at=at + 2 * second,
            notification_id="n-1",
            kind=NotificationKind.ACKNOWLEDGEMENT,
            source_event_id=submitted.event_id,
            message_id="<m@x>",
        ),
        NoteAdded(
            **ids, occurred_at=at + 3 * second, agent_id="agent-4", body=HIDDEN["internal note"]
        ),
        AssigneeChanged(
            **ids,
            occurred_at=at + 4 * second,
            actor_id="agent-4",
            team="security",
            assignee="agent-9",
        ),
        TicketTransferred(
            **ids,
            occurred_at=at + 5 * second,
            transfer=Transfer(
                from_team="security",
                to_team="withdrawals-transfers",
                reason=HIDDEN["transfer reason"],
                agent_id="agent-4",
            ),
            request=RequestContent(
                category="withdrawals",
                subject=submitted.subject,
                description=submitted.description,
                submitted_at=at,
            ),
            decision=decision,
            status=Status.OPEN,
            routed_at=at + second,
        ),
        AgentReplied(**ids, occurred_at=at + 6 * second, agent_id="agent-4", body="We are on it"),
        NotificationFailed(
            **ids,
            occurred_at=at + 7 * second,
            notification_id="n-2",
            kind=NotificationKind.AGENT_REPLY,
            source_event_id=submitted.event_id,
            reason="mailbox full 550",
            permanent=True,
        ),
        SlaBreached(
            **ids,
            occurred_at=at + 8 * second,
            metric=SlaMetric.NEXT_REPLY,
            cycle="next_reply:x",
            team="withdrawals-transfers",
            priority=Priority.URGENT,
            target_seconds=7200,
            due_at=at + 8 * second,
            business_hours=False,
        ),
        CustomerReminded(
            **ids, occurred_at=at + 9 * second, rule_id="remind-pending", waiting_since=at
        ),
        StatusChanged(
            **ids,
            occurred_at=at + 10 * second,
            actor_id="automation:solve-pending",
            actor_role="system",
            rule_id="solve-pending",
            note="Solved: no answer for 7 days",
            status_change=StatusTransition(from_status=Status.PENDING, to_status=Status.SOLVED),
        ),
    ]


@dataclass(frozen=True)
class Views:
    customer_json: str
    customer_list: str
    customer_page: str
    agent_json: str


@pytest.fixture(scope="module")
async def views(infra: EmbeddedStack) -> AsyncIterator[Views]:
    settings = HistorySettings(
        mongo_url=infra.config.mongo_url,
        database="history_audience_test",
        collection=f"requests_{uuid4().hex[:8]}",
    )
    app = build(settings).http
    service: HistoryService = app.state.history_service
    repository = service.repository
    assert isinstance(repository, MongoRequestRepository)
    await repository.ensure_indexes()
    events = story()
    await service.apply_events(events)
    ticket_id = events[0].ticket_id
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        owner = bearer(OWNER)
        yield Views(
            customer_json=(await client.get(f"/v1/tickets/{ticket_id}", headers=owner)).text,
            customer_list=(await client.get("/v1/accounts/me/activities", headers=owner)).text,
            customer_page=(await client.get(f"/my-activities/{ticket_id}", headers=owner)).text,
            agent_json=(
                await client.get(f"/v1/tickets/{ticket_id}", headers=bearer("agent-1", Role.AGENT))
            ).text,
        )
    await repository.collection.drop()
    await repository.collection.database.client.close()


@pytest.mark.parametrize("what", sorted(HIDDEN))
async def test_the_customer_never_reads(views: Views, what: str) -> None:
    leak = HIDDEN[what]
    for where, text in (
        ("JSON", views.customer_json),
        ("list", views.customer_list),
        ("page", views.customer_page),
    ):
        assert leak.lower() not in text.lower(), f"{what} shows in the customer's {where}"


@pytest.mark.parametrize("what", sorted(HIDDEN))
async def test_an_agent_reads_it_all(views: Views, what: str) -> None:
    assert HIDDEN[what].lower() in views.agent_json.lower(), what


@pytest.mark.parametrize("what", sorted(PUBLIC))
async def test_the_customer_reads_their_conversation(views: Views, what: str) -> None:
    assert PUBLIC[what] in views.customer_json
    assert PUBLIC[what] in views.customer_page
