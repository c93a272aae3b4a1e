"""Time rules in configuration: SLA targets per priority (and team), the business calendar
they may count in, and the automations that move waiting requests on (pure models).

Durations are ISO 8601 (PT1H, P4D) or seconds. A rule file is validated whole at start: a
service never runs on rules it half understood.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from history.domain.calendar import BusinessHours, CalendarHours, WorkingTime
from shared.contracts.events import AutomationAction, Priority, SlaMetric
from shared.contracts.statuses import Status

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Zendesk's ceiling: a solved request is closed within 28 days.
MAX_CLOSE_AFTER = timedelta(days=28)
RULE_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CalendarRules(_Strict):
    time_zone: str = "UTC"
    working_days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    holidays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _valid(self) -> Self:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
        BusinessHours(ZoneInfo(self.time_zone), self.days, self.opens, self.closes)
        return self

    @property
    def days(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(d) for d in self.working_days)

    def business_hours(self) -> BusinessHours:
        return BusinessHours(
            ZoneInfo(self.time_zone), self.days, self.opens, self.closes, frozenset(self.holidays)
        )


class SlaTarget(_Strict):
    """Targets for requests of one priority (of one team, when `team` is set)."""

    priority: Priority
    team: str | None = None
    first_reply: timedelta | None = None
    next_reply: timedelta | None = None
    resolution: timedelta | None = None
    business_hours: bool = Field(
        default=False, description="Count only the calendar's working hours"
    )

    @model_validator(mode="after")
    def _positive(self) -> Self:
        for metric in SlaMetric:
            value = self.of(metric)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{metric.value} must be a positive duration")
        return self

    def of(self, metric: SlaMetric) -> timedelta | None:
        value: timedelta | None = getattr(self, metric.value)
        return value


_WAITS_ON: dict[str, Status] = {"remind": Status.PENDING, "solve": Status.PENDING}


class AutomationRule(_Strict):
    """After `after` in `status` (counted from the firing of `counts_from`, when set), do
    `action`. Calendar time: a customer's silence does not keep office hours."""

    id: str = Field(pattern=RULE_ID)
    status: Literal[Status.PENDING, Status.SOLVED]
    after: timedelta
    action: AutomationAction
    counts_from: str | None = Field(
        default=None, description="The id of the rule (same status) whose firing starts the wait"
    )
    note: str = Field(default="", max_length=500, description="Written in the timeline")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.after <= timedelta(0):
            raise ValueError(f"{self.id}: `after` must be a positive duration")
        needs = _WAITS_ON.get(self.action, Status.SOLVED)
        if self.status is not needs:
            raise ValueError(f"{self.id}: `{self.action}` applies to {needs.value} requests")
        if self.action == "close" and self.after > MAX_CLOSE_AFTER:
            raise ValueError(
                f"{self.id}: a solved request closes within {MAX_CLOSE_AFTER.days} days"
            )
        return self


class TimeRules(_Strict):
    warn_at: float = Field(
        default=0.75, gt=0.0, lt=1.0, description="Share of a target that raises a warning"
    )
    calendar: CalendarRules = CalendarRules()
    targets: tuple[SlaTarget, ...] = ()
    automations: tuple[AutomationRule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen = [(t.priority, t.team) for t in self.targets]
        if len(seen) != len(set(seen)):
            raise ValueError("two SLA targets for the same priority and team")
        rules = {r.id: r for r in self.automations}
        if len(rules) != len(self.automations):
            raise ValueError("two automations with the same id")
        for rule in self.automations:
            source = rules.get(rule.counts_from) if rule.counts_from else None
            if rule.counts_from and (source is None or source.status is not rule.status):
                raise ValueError(
                    f"{rule.id}: counts_from must name another rule on {rule.status.value}"
                )
            if source is not None and (source.counts_from or source.action != "remind"):
                raise ValueError(
                    f"{rule.id}: counts_from must name a reminder counted from the status"
                )
        return self

    def target_for(self, team: str | None, priority: Priority) -> SlaTarget | None:
        """The team's own target for the priority, else the priority's."""
        general = None
        for target in self.targets:
            if target.priority == priority:
                if target.team is not None and target.team == team:
                    return target
                if target.team is None:
                    general = target
        return general

    def working_time(self, target: SlaTarget) -> WorkingTime:
        return self.calendar.business_hours() if target.business_hours else CalendarHours()
