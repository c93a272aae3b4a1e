from __future__ import annotations

import pytest

from shared.contracts.statuses import (
    IllegalTransitionError,
    Status,
    check_transition,
    public_name,
    status_after_customer_comment,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.NEW, Status.OPEN),
        (Status.OPEN, Status.PENDING),
        (Status.OPEN, Status.ON_HOLD),
        (Status.PENDING, Status.SOLVED),
        (Status.ON_HOLD, Status.OPEN),
        (Status.SOLVED, Status.CLOSED),
        (Status.SOLVED, Status.OPEN),
    ],
)
def test_allowed(current: Status, target: Status) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target", "why"),
    [
        (Status.CLOSED, Status.OPEN, "closed"),
        (Status.OPEN, Status.OPEN, "already open"),
        (Status.SOLVED, Status.PENDING, "allowed from solved: closed, open"),
        (Status.OPEN, Status.NEW, "allowed from open"),
        # Closing is for solved requests: nobody closes what nobody answered in one step.
        (Status.OPEN, Status.CLOSED, "solve it first"),
        (Status.NEW, Status.CLOSED, "solve it first"),
        (Status.PENDING, Status.CLOSED, "solve it first"),
        (Status.ON_HOLD, Status.CLOSED, "solve it first"),
    ],
)
def test_illegal_transitions_say_why(current: Status, target: Status, why: str) -> None:
    with pytest.raises(IllegalTransitionError, match=why):
        check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "after"),
    [
        (Status.PENDING, Status.OPEN),
        (Status.SOLVED, Status.OPEN),
        (Status.ON_HOLD, Status.ON_HOLD),
        (Status.NEW, Status.NEW),
        (Status.OPEN, Status.OPEN),
    ],
)
def test_customer_comment_reopens_pending_and_solved(current: Status, after: Status) -> None:
    assert status_after_customer_comment(current) is after


def test_comment_on_closed_request_is_refused() -> None:
    with pytest.raises(IllegalTransitionError, match="opens a follow-up"):
        status_after_customer_comment(Status.CLOSED)


def test_public_names_hide_internal_states() -> None:
    assert public_name(Status.PENDING) == "Awaiting your reply"
    assert public_name(Status.ON_HOLD) == "Open"
    assert {public_name(s) for s in Status} == {"Open", "Awaiting your reply", "Solved", "Closed"}
