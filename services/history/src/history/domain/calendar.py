"""Working time: how much of it lies between two instants, and when a span of it ends (pure).

A target "in business hours" counts only the hours a team works: its time zone, its working
days, its opening hours and its holidays. A target in calendar hours counts every hour; both
answer the same two questions, so a clock never asks which kind it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# No calendar a configuration passes has no working day in ten years (holidays included).
_HORIZON_DAYS = 3660


class WorkingTime(Protocol):
    def add(self, start: datetime, span: timedelta) -> datetime:
        """The instant `span` of working time after `start`."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """The working time in [start, end); zero when end is not after start."""
        ...


class CalendarHours:
    """Every hour counts."""

    def add(self, start: datetime, span: timedelta) -> datetime:
        return start + span

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Working days (Monday = 0) from `opens` to `closes` local time, holidays off."""

    time_zone: ZoneInfo
    days: frozenset[int]
    opens: time
    closes: time
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("a business calendar needs at least one working day")
        if self.opens >= self.closes:
            raise ValueError("opening hours must open before they close")

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working windows (UTC) from the local day of `start` on, in order."""
        first = start.astimezone(self.time_zone).date()
        for offset in range(_HORIZON_DAYS):
            day = first + timedelta(days=offset)
            if day.weekday() in self.days and day not in self.holidays:
                opens = datetime.combine(day, self.opens, self.time_zone).astimezone(UTC)
                closes = datetime.combine(day, self.closes, self.time_zone).astimezone(UTC)
                yield opens, closes

    def add(self, start: datetime, span: timedelta) -> datetime:
        if span <= timedelta(0):
            return start
        remaining = span
        for opens, closes in self._windows(start):
            begin = max(opens, start)
            if closes <= begin:
                continue
            if remaining <= closes - begin:
                return begin + remaining
            remaining -= closes - begin
        raise ValueError("the calendar has no working time within its horizon")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self._windows(start):
            if opens >= end:
                break
            begin, finish = max(opens, start), min(closes, end)
            if finish > begin:
                total += finish - begin
        return total
