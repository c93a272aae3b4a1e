from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from history.domain.projection import RequestView, apply
from shared.events import (
    AgentReplied,
    Envelope,
    NotificationKind,
    NotificationSent,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    new_ticket_id,
)
from shared.statuses import Status

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def story() -> list[Envelope]:
    ticket = {"ticket_id": new_ticket_id(), "account_id": "acc-1001", "correlation_id": "c"}
    submitted = TicketSubmitted(
        **ticket,
        occurred_at=T0,
        category="trading",
        subject="Stuck",
        description="withdrawal pending",
    )
    return [
        submitted,
        TicketRouted(
            **ticket,
            occurred_at=T0 + timedelta(seconds=1),
            team="withdrawals-transfers",
            confidence=0.97,
            customer_category="trading",
            customer_team="trading-exchange",
            rerouted_from="trading-exchange",
            reason="model",
            model_version="m",
        ),
        NotificationSent(
            **ticket,
            occurred_at=T0 + timedelta(seconds=2),
            notification_id="n",
            kind=NotificationKind.ACKNOWLEDGEMENT,
            source_event_id=submitted.event_id,
            message_id="<m@x>",
        ),
        AgentReplied(
            **ticket,
            occurred_at=T0 + timedelta(hours=1),
            agent_id="agent-1",
            body="Done",
            status_change=StatusTransition(from_status=Status.OPEN, to_status=Status.PENDING),
        ),
        StatusChanged(
            **ticket,
            occurred_at=T0 + timedelta(hours=2),
            actor_id="agent-1",
            actor_role="agent",
            status_change=StatusTransition(from_status=Status.PENDING, to_status=Status.SOLVED),
        ),
    ]


def fold(events: list[Envelope]) -> RequestView:
    view: RequestView | None = None
    for event in events:
        view = apply(view, event) or view
    assert view is not None
    return view


def comparable(view: RequestView) -> dict[str, object]:
    return view.model_dump(exclude={"applied_event_ids", "version"})


def test_in_order_story() -> None:
    view = fold(story())
    assert view.status is Status.SOLVED
    assert view.public_status == "Solved"
    assert view.team == "withdrawals-transfers"
    assert view.rerouted_from == "trading-exchange"
    assert view.subject == "Stuck"
    assert view.first_reply_at == T0 + timedelta(hours=1)
    assert [e.kind for e in view.timeline] == [
        "submitted",
        "rerouted",
        "email_sent",
        "reply",
        "status_changed",
    ]


def test_redelivery_is_a_no_op() -> None:
    events = story()
    view = fold(events)
    assert all(apply(view, e) is None for e in events)
    assert comparable(fold(events + events)) == comparable(view)


@pytest.mark.parametrize("seed", range(8))
def test_any_order_gives_the_same_view(seed: int) -> None:
    events = story()
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    assert comparable(fold(shuffled)) == comparable(fold(events))


def test_all_orders_of_routing_and_submission_keep_every_field() -> None:
    submitted, routed = story()[:2]
    for order in itertools.permutations([submitted, routed]):
        view = fold(list(order))
        assert (view.subject, view.team, view.status) == (
            "Stuck",
            "withdrawals-transfers",
            Status.OPEN,
        )
