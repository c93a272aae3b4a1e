"""`make watch`'s lines for the messages a team's topic carries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.contracts.events import Priority, SlaBreached, SlaMetric, SlaWarning
from shared.kafka.watch import describe

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("alert", "kind"), [(SlaBreached, "SLA BREACH"), (SlaWarning, "SLA warning")]
)
def test_an_sla_alert_is_one_line_with_what_is_due_when(
    alert: type[SlaBreached], kind: str
) -> None:
    extra = {"share": 0.75} if alert is SlaWarning else {}
    line = describe(
        alert(
            ticket_id="7KQ2-M9XD-4TRA",
            account_id="acc-1001",
            correlation_id="c",
            occurred_at=AT,
            metric=SlaMetric.FIRST_REPLY,
            cycle="first_reply",
            team="security",
            priority=Priority.URGENT,
            target_seconds=1800,
            due_at=AT,
            business_hours=False,
            **extra,
        )
    )
    due = "first reply due 10:00:00 (target 1800 s)"
    assert line == f"2026-12-01 10:00:00  {kind:<11}  7KQ2-M9XD-4TRA  URGENT  {due}"
