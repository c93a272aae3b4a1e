"""`make watch`'s lines for the messages a team's topic carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.contracts.events import Priority, SlaBreached, SlaMetric, SlaWarning
from shared.kafka.watch import describe

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ALERT: dict[str, Any] = {
    "ticket_id": "7KQ2-M9XD-4TRA",
    "account_id": "acc-1001",
    "correlation_id": "c",
    "occurred_at": AT,
    "metric": SlaMetric.FIRST_REPLY,
    "cycle": "first_reply",
    "team": "security",
    "priority": Priority.URGENT,
    "target_seconds": 1800,
    "due_at": AT,
    "business_hours": False,
}
DUE = "7KQ2-M9XD-4TRA  URGENT  first reply due 10:00:00 (target 1800 s)"


def test_a_breach_is_one_line_with_what_was_due_when() -> None:
    assert describe(SlaBreached(**ALERT)) == f"2026-12-01 10:00:00  SLA BREACH   {DUE}"


def test_a_warning_is_one_line_with_what_is_due_when() -> None:
    warning = SlaWarning(**ALERT, share=0.75)
    assert describe(warning) == f"2026-12-01 10:00:00  SLA warning  {DUE}"
