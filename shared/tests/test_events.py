from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.contracts.events import (
    TICKET_ID_PATTERN,
    AgentReplied,
    TicketSubmitted,
    any_event_adapter,
    derived_event_id,
    header_safe,
    new_ticket_id,
)

pytestmark = pytest.mark.unit


def submitted(**overrides: object) -> TicketSubmitted:
    fields: dict[str, object] = {
        "ticket_id": new_ticket_id(),
        "account_id": "acc-1001",
        "correlation_id": "c-1",
        "category": "withdrawals",
        "subject": "Stuck",
        "description": "My withdrawal is stuck",
    }
    return TicketSubmitted.model_validate(fields | overrides)


def test_round_trip_through_json_by_event_type() -> None:
    event = submitted()
    decoded = any_event_adapter.validate_json(event.model_dump_json())
    assert decoded == event
    assert isinstance(decoded, TicketSubmitted)


def test_events_are_frozen() -> None:
    with pytest.raises(ValidationError):
        submitted().subject = "changed"  # type: ignore[misc]


def test_unknown_fields_from_a_newer_producer_are_ignored() -> None:
    payload = submitted().model_dump(mode="json") | {"added_in_v1_1": "x"}
    assert isinstance(any_event_adapter.validate_python(payload), TicketSubmitted)


def test_unknown_event_type_is_rejected() -> None:
    payload = submitted().model_dump(mode="json") | {"event_type": "Nope"}
    with pytest.raises(ValidationError):
        any_event_adapter.validate_python(payload)


def test_occurred_at_is_normalised_to_utc() -> None:
    local = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert submitted(occurred_at=local).occurred_at.utcoffset() == timedelta(0)
    assert submitted(occurred_at=local).occurred_at.hour == 10


def test_ticket_ids_are_readable_and_distinct() -> None:
    ids = {new_ticket_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.match(TICKET_ID_PATTERN, i) for i in ids)
    assert not any(c in "".join(ids) for c in "01IO")


def test_account_id_must_look_like_one() -> None:
    with pytest.raises(ValidationError):
        submitted(account_id={"$ne": None})
    with pytest.raises(ValidationError):
        submitted(account_id="acc 1001\r\nX-Injected: yes")


def test_derived_event_ids_are_stable_per_purpose() -> None:
    source = submitted().event_id
    assert derived_event_id(source, "routed") == derived_event_id(source, "routed")
    assert derived_event_id(source, "routed") != derived_event_id(source, "assigned")


def test_header_safe_removes_line_breaks() -> None:
    assert header_safe("a\r\nBcc: x@y.z\x00") == "a  Bcc: x@y.z "


def test_activity_event_round_trip() -> None:
    reply = AgentReplied(
        ticket_id=new_ticket_id(),
        account_id="acc-1",
        correlation_id="c",
        agent_id="agent-1",
        body="Hello",
    )
    assert any_event_adapter.validate_json(reply.model_dump_json()) == reply
