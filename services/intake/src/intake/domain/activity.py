"""What customers' and agents' actions on an existing request do to its status (pure).

Each decision takes the status intake holds now and returns the change to record (None: the
status stays), or raises IllegalTransitionError / ClosedRequestError with the reason.
Intake holds `new` until an agent acts (it does not consume tickets.routed); the state machine
allows `new` everything `open` allows, so treating the two alike needs no special case.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.submission import FieldError
from shared.contracts.events import StatusTransition
from shared.contracts.statuses import Status, check_transition, status_after_customer_comment


class ClosedRequestError(ValueError):
    def __init__(self, action: str) -> None:
        super().__init__(
            f"cannot {action}: the request is closed; the customer must submit a new request"
        )


def _change(current: Status, target: Status) -> StatusTransition | None:
    if target is current:
        return None
    return StatusTransition(from_status=current, to_status=target)


def after_customer_message(current: Status) -> StatusTransition | None:
    """A comment or uploaded documents re-open a request that waited on the customer or was
    solved; closed is final."""
    return _change(current, status_after_customer_comment(current))


def after_agent_reply(current: Status, requested: Status | None) -> StatusTransition | None:
    """A public reply, optionally moving the request on; asking for the status it already has
    is no change (a reply is not a status request)."""
    if current is Status.CLOSED:
        raise ClosedRequestError("reply")
    if requested is None or requested is current:
        return None
    check_transition(current, requested)
    return _change(current, requested)


def after_information_request(current: Status) -> StatusTransition | None:
    """Asking the customer for something makes the request wait on them (pending)."""
    if current is Status.CLOSED:
        raise ClosedRequestError("request information")
    if current is Status.PENDING:
        return None  # asking again while waiting: still waiting
    check_transition(current, Status.PENDING)
    return _change(current, Status.PENDING)


def after_status_request(current: Status, requested: Status) -> StatusTransition:
    """An explicit status change must be a legal move (the same status is not a move)."""
    check_transition(current, requested)
    return StatusTransition(from_status=current, to_status=requested)


@dataclass(frozen=True, slots=True)
class MessageLimits:
    max_length: int = 20_000


def check_message(text: str, limits: MessageLimits, field: str = "body") -> list[FieldError]:
    stripped = text.strip()
    if not stripped:
        return [FieldError(field, "must not be empty")]
    if len(stripped) > limits.max_length:
        return [FieldError(field, f"at most {limits.max_length} characters")]
    return []
