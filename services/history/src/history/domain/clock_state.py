"""One SLA clock of a request as it stands (a value stored with the request's view)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.contracts.events import Model, Priority, SlaMetric, UtcDatetime

ClockStatus = Literal["running", "paused", "met", "breached"]


class SlaClock(Model):
    metric: SlaMetric
    cycle: str = Field(description="The current (latest) run of the clock")
    team: str
    priority: Priority
    target_seconds: int
    business_hours: bool
    status: ClockStatus = Field(
        description="running (counting), paused (the request waits for the customer or is"
        " solved), met (stopped in time), breached (the target passed)"
    )
    started_at: UtcDatetime
    due_at: UtcDatetime | None = Field(
        default=None, description="When the target is reached if the clock keeps running"
    )
    warn_at: UtcDatetime | None = None
    stopped_at: UtcDatetime | None = None
    met: int = Field(default=0, description="Runs stopped in time (next_reply: one per answer)")
    breached: int = Field(default=0, description="Runs that passed their target")
    settled_seconds: tuple[float, ...] = Field(
        default=(), description="Counted time of each settled run (working time if business)"
    )
