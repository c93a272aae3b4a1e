from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from history.domain.projection import RequestView, apply
from shared.contracts.events import (
    AgentReplied,
    AttachmentRef,
    CommentAdded,
    DocumentsUploaded,
    Envelope,
    InformationRequested,
    NotificationFailed,
    NotificationKind,
    NotificationSent,
    Priority,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    new_ticket_id,
)
from shared.contracts.statuses import Status

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def ticket(account_id: str = "acc-1001") -> dict[str, Any]:
    return {"ticket_id": new_ticket_id(), "account_id": account_id, "correlation_id": "c"}


def story(account_id: str = "acc-1001", subject: str = "Stuck") -> list[Envelope]:
    """Submitted, re-routed, acknowledged, replied (pending), solved."""
    ids = ticket(account_id)
    submitted = TicketSubmitted(
        **ids,
        occurred_at=T0,
        category="trading",
        subject=subject,
        description="withdrawal pending",
    )
    return [
        submitted,
        TicketRouted(
            **ids,
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
            **ids,
            occurred_at=T0 + timedelta(seconds=2),
            notification_id="n",
            kind=NotificationKind.ACKNOWLEDGEMENT,
            source_event_id=submitted.event_id,
            message_id="<m@x>",
        ),
        AgentReplied(
            **ids,
            occurred_at=T0 + timedelta(hours=1),
            agent_id="agent-1",
            body="Done",
            status_change=StatusTransition(from_status=Status.OPEN, to_status=Status.PENDING),
        ),
        StatusChanged(
            **ids,
            occurred_at=T0 + timedelta(hours=2),
            actor_id="agent-1",
            actor_role="agent",
            status_change=StatusTransition(from_status=Status.PENDING, to_status=Status.SOLVED),
        ),
    ]


def documents_story() -> list[Envelope]:
    """ID photos missing at submission, asked for again by an agent, uploaded, e-mail failed."""
    ids = ticket()
    attachment = AttachmentRef(
        attachment_id="a1", filename="id.jpg", content_type="image/jpeg", size=10, sha256="0" * 64
    )
    submitted = TicketSubmitted(
        **ids,
        occurred_at=T0,
        category="2fa",
        subject="Disable 2FA",
        description="lost phone",
        required_documents_missing=True,
    )
    return [
        submitted,
        TicketRouted(
            **ids,
            occurred_at=T0 + timedelta(seconds=1),
            team="security",
            confidence=0.9,
            priority=Priority.URGENT,
            customer_category="2fa",
            reason="rule:id-documents",
            explanation="disabling 2FA needs ID confirmation photos",
            model_version="m",
            required_documents_missing=True,
        ),
        NotificationFailed(
            **ids,
            occurred_at=T0 + timedelta(seconds=3),
            notification_id="n",
            kind=NotificationKind.DOCUMENTS_NEEDED,
            source_event_id=submitted.event_id,
            reason="550 mailbox unavailable",
            permanent=True,
        ),
        InformationRequested(
            **ids,
            occurred_at=T0 + timedelta(minutes=30),
            agent_id="agent-2",
            body="Please send a selfie with your ID",
            documents_requested=("selfie",),
            status_change=StatusTransition(from_status=Status.OPEN, to_status=Status.PENDING),
        ),
        DocumentsUploaded(
            **ids,
            occurred_at=T0 + timedelta(hours=1),
            attachments=(attachment,),
            status_change=StatusTransition(from_status=Status.PENDING, to_status=Status.OPEN),
        ),
    ]


def fold(events: Sequence[Envelope]) -> RequestView:
    view: RequestView | None = None
    for event in events:
        view = apply(view, event) or view
    assert view is not None
    return view


def comparable(view: RequestView) -> dict[str, object]:
    return view.model_dump(exclude={"version"})


def test_in_order_story() -> None:
    view = fold(story())
    assert view.status is Status.SOLVED
    assert view.public_status == "Solved"
    assert view.team == "withdrawals-transfers"
    assert view.rerouted_from == "trading-exchange"
    assert view.subject == "Stuck"
    assert view.created_at == T0
    assert view.routed_at == T0 + timedelta(seconds=1)
    assert view.first_reply_at == T0 + timedelta(hours=1)
    assert [e.kind for e in view.timeline] == [
        "submitted",
        "rerouted",
        "email_sent",
        "reply",
        "status_changed",
    ]
    rerouted = view.timeline[1]
    assert "moved from the trading-exchange team" in rerouted.summary.lower()
    assert "what the request says" in rerouted.summary  # why: the model read the text
    assert rerouted.details["reason"] == "model"


def test_documents_requested_uploaded_and_failed_mail() -> None:
    events = documents_story()
    assert fold(events[:2]).required_documents_missing
    view = fold(events)
    assert not view.required_documents_missing
    assert view.priority is Priority.URGENT
    assert view.status is Status.OPEN
    assert view.first_reply_at == T0 + timedelta(minutes=30)  # asking is answering
    assert [e.kind for e in view.timeline] == [
        "submitted",
        "routed",
        "email_failed",
        "documents_requested",
        "documents_uploaded",
    ]
    routed, failed, asked = view.timeline[1], view.timeline[2], view.timeline[3]
    assert "ID confirmation photos are needed" in routed.summary
    assert "disabling 2FA" in routed.summary
    assert failed.summary == "E-mail not sent: documents needed"
    assert "550" not in failed.summary
    assert failed.details["reason"].startswith("550")
    assert asked.details["documents"] == ["selfie"]
    # the upload arriving before the request for documents changes nothing
    assert not fold([events[4], *events[:4]]).required_documents_missing


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


def test_a_later_routing_decision_wins_whatever_the_arrival_order() -> None:
    ids = ticket()
    common = {"confidence": 0.5, "customer_category": "cards", "model_version": "m"}
    to_triage = TicketRouted(**ids, occurred_at=T0, team="triage", reason="triage", **common)
    by_agent = TicketRouted(
        **ids,
        occurred_at=T0 + timedelta(minutes=5),
        team="cards",
        rerouted_from="triage",
        reason="rule:manual",
        **common,
    )
    for order in ([to_triage, by_agent], [by_agent, to_triage]):
        view = fold(order)
        assert (view.team, view.rerouted_from) == ("cards", "triage")
        assert view.routed_at == T0  # time to route counts from the first decision


def test_status_ties_within_a_millisecond_resolve_the_same_way() -> None:
    ids = ticket()
    at = T0 + timedelta(minutes=1)
    changes = [
        StatusChanged(
            **ids,
            occurred_at=at,
            actor_id="agent-1",
            actor_role="agent",
            status_change=StatusTransition(from_status=Status.OPEN, to_status=to),
        )
        for to in (Status.PENDING, Status.ON_HOLD)
    ]
    routed = story()[1].model_copy(update=ids | {"occurred_at": at})
    views = {fold(list(order)).status for order in itertools.permutations([*changes, routed])}
    assert len(views) == 1


def test_times_are_kept_to_the_millisecond_mongodb_stores() -> None:
    submitted = story()[0].model_copy(update={"occurred_at": T0 + timedelta(microseconds=1999)})
    view = fold([submitted])
    assert view.created_at == T0 + timedelta(milliseconds=1)
    assert view.timeline[0].at == view.created_at


def test_a_customer_comment_and_its_status_change() -> None:
    events = story()[:4]  # ... replied, pending
    comment = CommentAdded(
        ticket_id=events[0].ticket_id,
        account_id="acc-1001",
        correlation_id="c",
        occurred_at=T0 + timedelta(hours=3),
        body="It arrived, thanks",
        status_change=StatusTransition(from_status=Status.PENDING, to_status=Status.OPEN),
    )
    view = fold([*events, comment])
    assert view.status is Status.OPEN
    assert view.timeline[-1].kind == "comment"
    assert view.timeline[-1].details["body"] == "It arrived, thanks"


def _with_duplicates_and_order() -> st.SearchStrategy[list[int]]:
    """Indexes into a story: each event at least once, some twice, in any order."""
    n = len(story()) + len(documents_story())
    return st.lists(st.integers(0, n - 1), max_size=2 * n).flatmap(
        lambda extra: st.permutations(list(range(n)) + extra)
    )


STORY_A, STORY_B = story(), documents_story()


@settings(max_examples=60, deadline=None)
@given(_with_duplicates_and_order())
def test_duplicates_and_reordering_across_two_requests(order: list[int]) -> None:
    """Events of two requests interleaved, redelivered and reordered: each request's view is
    the in-order one."""
    events = STORY_A + STORY_B
    views: dict[str, RequestView] = {}
    for index in order:
        event = events[index]
        views[event.ticket_id] = apply(views.get(event.ticket_id), event) or views[event.ticket_id]
    assert comparable(views[STORY_A[0].ticket_id]) == comparable(fold(STORY_A))
    assert comparable(views[STORY_B[0].ticket_id]) == comparable(fold(STORY_B))
