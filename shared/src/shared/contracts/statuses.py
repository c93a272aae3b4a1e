"""The request status state machine (pure domain, no I/O).

new -> open -> pending (waiting for the customer) / on-hold -> solved -> closed.
A customer comment re-opens a pending or solved request. Only a solved request closes (an
agent cannot close a request nobody answered in one step); closed is final: the customer's
next message opens a follow-up request.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on-hold"
    SOLVED = "solved"
    CLOSED = "closed"


_WORKING = {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED}

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(_WORKING),
    Status.OPEN: frozenset(_WORKING - {Status.OPEN}),
    Status.PENDING: frozenset(_WORKING - {Status.PENDING}),
    Status.ON_HOLD: frozenset(_WORKING - {Status.ON_HOLD}),
    Status.SOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# What the customer sees: on-hold is internal (we wait on a third party), so it reads "Open".
PUBLIC_NAMES: dict[Status, str] = {
    Status.NEW: "Open",
    Status.OPEN: "Open",
    Status.PENDING: "Awaiting your reply",
    Status.ON_HOLD: "Open",
    Status.SOLVED: "Solved",
    Status.CLOSED: "Closed",
}

REOPENED_BY_CUSTOMER_COMMENT = frozenset({Status.PENDING, Status.SOLVED})


class IllegalTransitionError(ValueError):
    """A status change the state machine forbids; the message says why."""

    def __init__(self, current: Status, target: Status) -> None:
        self.current = current
        self.target = target
        if current is Status.CLOSED:
            why = "the request is closed; the customer's next message opens a follow-up"
        elif target is Status.CLOSED:
            why = "only a solved request can be closed: solve it first"
        elif current is target:
            why = f"the request is already {current.value}"
        else:
            allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current])) or "none"
            why = f"allowed from {current.value}: {allowed}"
        super().__init__(f"cannot change status from {current.value} to {target.value}: {why}")


def check_transition(current: Status, target: Status) -> None:
    """Raise IllegalTransitionError unless current -> target is allowed."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransitionError(current, target)


def status_after_customer_comment(current: Status) -> Status:
    """A comment re-opens a request that waited on the customer or was solved."""
    if current is Status.CLOSED:
        raise IllegalTransitionError(current, Status.OPEN)
    return Status.OPEN if current in REOPENED_BY_CUSTOMER_COMMENT else current


def public_name(status: Status) -> str:
    return PUBLIC_NAMES[status]
