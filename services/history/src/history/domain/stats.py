"""What a dashboard may see: aggregates over requests, never their text (pure, no I/O).

The figures cover the requests *created* in a window [from, to). The backlog is the one
exception: it is the number of requests still waiting now, per team, whatever their age,
because a backlog is a present-tense number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from shared.contracts.events import Priority, SlaMetric
from shared.contracts.statuses import Status

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=366)
UNROUTED = "unrouted"  # the team of a request no routing decision has reached yet

# Work still to do for someone: the customer (pending) or the team.
BACKLOG_STATUSES: frozenset[Status] = frozenset(
    {Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD}
)


class InvalidWindowError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class StatsWindow:
    start: datetime
    end: datetime
    now: datetime = field(default_factory=lambda: datetime.now(UTC))  # the backlog's present

    @classmethod
    def of(
        cls, start: datetime | None, end: datetime | None, *, now: datetime | None = None
    ) -> StatsWindow:
        """The window asked for; naive times are UTC; the default is the last seven days."""
        now = now or datetime.now(UTC)
        try:
            end = _utc(end) if end else now
            start = _utc(start) if start else end - DEFAULT_WINDOW
        except OverflowError as exc:  # near year 1 or 9999: no such window
            raise InvalidWindowError("the window lies outside the dates we can count") from exc
        if start >= end:
            raise InvalidWindowError("`from` must be before `to`")
        if end - start > MAX_WINDOW:
            raise InvalidWindowError(f"the window may span at most {MAX_WINDOW.days} days")
        return cls(start, end, now)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TeamStatusCount(BaseModel):
    team: str
    status: Status
    count: int


class Durations(BaseModel):
    """Seconds from submission; over the requests of the window that got there."""

    count: int = Field(description="Requests the figures are computed over")
    median_seconds: float | None
    p90_seconds: float | None


class TeamBacklog(BaseModel):
    team: str
    count: int


class TeamRoute(BaseModel):
    from_team: str
    to_team: str
    count: int


class ReasonCount(BaseModel):
    reason: str = Field(description="customer_category, model, triage or rule:<id>")
    count: int


class Transfers(BaseModel):
    """What misroutes cost: the requests agents had to move, and the time it took them."""

    count: int = Field(description="Transfers of the window's requests")
    requests: int = Field(description="Requests moved at least once")
    share_of_routed: float | None = Field(description="requests / routed; null when none routed")
    by_route: list[TeamRoute]
    by_original_reason: list[ReasonCount] = Field(
        description="What placed them where they did not belong"
    )
    time_lost: Durations = Field(description="From the router's decision to the first transfer")
    first_time_right_rate: float | None = Field(
        description="Of the solved or closed requests, the share never moved; null when none"
    )
    time_to_first_reply_transferred: Durations
    time_to_first_reply_not_transferred: Durations


class SlaAttainment(BaseModel):
    """One SLA metric of one team at one priority, over the window's requests whose clock
    has settled: met (stopped in time) or breached. A running clock counts as neither."""

    team: str
    priority: Priority
    metric: SlaMetric
    target_seconds: int | None = Field(description="The policy's target now (null: none)")
    met: int
    breached: int
    attainment: float | None = Field(description="met / (met + breached); null when none")
    median_seconds: float | None = Field(
        description="Median time the clock ran (business time when the target counts it)"
    )


class BacklogAge(BaseModel):
    """Requests waiting now, by team and by how long ago they were created."""

    team: str
    age: str = Field(description="One of AGE_BUCKETS' labels")
    count: int


# Upper bounds (exclusive) of the backlog's age buckets; the last one is open.
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("< 1 h", timedelta(hours=1)),
    ("1-4 h", timedelta(hours=4)),
    ("4-24 h", timedelta(hours=24)),
    ("1-3 d", timedelta(days=3)),
    ("> 3 d", None),
)


class Stats(BaseModel):
    window_from: datetime
    window_to: datetime
    requests: int = Field(description="Requests created in the window")
    by_team_and_status: list[TeamStatusCount]
    routed: int
    rerouted: int = Field(description="Routed to another team than the customer's category")
    reroute_rate: float | None = Field(description="rerouted / routed; null when none routed")
    time_to_route: Durations
    time_to_first_reply: Durations
    backlog: list[TeamBacklog] = Field(
        description="Requests waiting now (new, open, pending, on-hold) per team, any age"
    )
    transfers: Transfers
    sla: list[SlaAttainment] = Field(
        default_factory=list, description="SLA attainment by team, priority and metric"
    )
    backlog_by_age: list[BacklogAge] = Field(
        default_factory=list, description="The backlog (see `backlog`) by age of the request"
    )


def reroute_rate(routed: int, rerouted: int) -> float | None:
    return round(rerouted / routed, 4) if routed else None


def millis_to_seconds(value: float | None) -> float | None:
    return None if value is None else round(value / 1000, 3)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
