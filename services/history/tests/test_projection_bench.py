"""The store-less projection benchmark folds what the bench's kafka phase produces."""

from __future__ import annotations

import pytest

from history.domain.projection import apply
from history.projection_bench import events_per_second, sample_records
from shared.contracts.events import any_event_adapter

pytestmark = pytest.mark.unit


def test_each_ticket_gets_submitted_routed_and_mailed() -> None:
    records = sample_records(3)
    assert len(records) == 9
    view = None
    for record in records[:3]:
        view = apply(view, any_event_adapter.validate_json(record))
    assert view is not None
    # (the three share one millisecond: the timeline orders them by event id)
    assert sorted(e.kind for e in view.timeline) == ["email_sent", "routed", "submitted"]
    assert view.team == "cards"
    assert events_per_second(records) > 0
