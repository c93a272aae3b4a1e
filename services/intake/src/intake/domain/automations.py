"""Whether a time rule (an automation) still applies to a request, and what it does (pure).

The scheduler saw a request wait in a status (pending: on the customer; solved: on nobody)
since a given event, and said so when the rule's time came. By then the customer may have
answered or an agent may have moved the request on: the rule applies only if the request is
still exactly where the rule found it, in that status, put there by that same event.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from intake.domain.activity import ClosedRequestError, after_status_request
from intake.domain.outbox import RecordedEvent
from shared.contracts.events import AutomationAction, StatusTransition
from shared.contracts.statuses import Status

# The status each action moves the request to (None: it stays where it is).
TARGETS: dict[AutomationAction, Status | None] = {
    "remind": None,
    "solve": Status.SOLVED,
    "close": Status.CLOSED,
}


class Skip(StrEnum):
    """Why an automation that came due was not applied (none of them is an error)."""

    UNKNOWN = "unknown"  # no such request here
    STATUS_CHANGED = "status_changed"  # the request is in another status now
    MOVED_SINCE = "moved_since"  # same status, but set again since (left it and came back)
    ALREADY_APPLIED = "already_applied"  # a redelivery: recorded the first time


def status_set_by(events: Sequence[RecordedEvent]) -> str | None:
    """The id of the latest recorded event that changed the status (None: none did)."""
    return next((e.event_id for e in reversed(events) if e.status_change is not None), None)


def why_not_applicable(
    status: Status,
    events: Sequence[RecordedEvent],
    *,
    waits_on: Status,
    since_event_id: str,
) -> Skip | None:
    """None when the rule still applies: the request is in the status the rule waits on, and
    the event that put it there is the one the rule saw; otherwise why it does not."""
    if status is not waits_on:
        return Skip.STATUS_CHANGED
    if status_set_by(events) != since_event_id:
        return Skip.MOVED_SINCE
    return None


def automation_change(current: Status, action: AutomationAction) -> StatusTransition | None:
    """The status change the action makes, under the state machine's rules: solve and close
    are ordinary moves (pending → solved, solved → closed); a reminder changes nothing, and
    nobody is reminded about a closed request."""
    target = TARGETS[action]
    if target is None:
        if current is Status.CLOSED:
            raise ClosedRequestError("remind the customer")
        return None
    return after_status_request(current, target)
