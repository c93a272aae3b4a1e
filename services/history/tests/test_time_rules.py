"""The business calendar and the time-rule file: what a target counts, what a file may say."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from history.domain.calendar import BusinessHours, CalendarHours
from history.domain.time_rules import TimeRules
from shared.contracts.events import Priority

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2026-11-30 .. Friday 2026-12-04, 09:00-17:00 Berlin (UTC+1), Wednesday a holiday.
WEEK = BusinessHours(BERLIN, frozenset(range(5)), time(9), time(17), frozenset({date(2026, 12, 2)}))


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def test_business_time_skips_nights_holidays_and_weekends() -> None:
    # Tuesday 16:00 + 2 h: one hour on Tuesday, Wednesday is a holiday, one hour on Thursday.
    assert WEEK.add(berlin(1, 16), timedelta(hours=2)) == berlin(3, 10)
    # Friday 16:30 + 1 h: half an hour on Friday, the rest on Monday morning.
    assert WEEK.add(berlin(4, 16, 30), timedelta(hours=1)) == berlin(7, 9, 30)
    # Saturday counts nothing; a start before opening waits for it.
    assert WEEK.elapsed(berlin(5, 10), berlin(6, 23)) == timedelta(0)
    assert WEEK.add(berlin(1, 6), timedelta(minutes=30)) == berlin(1, 9, 30)
    assert WEEK.elapsed(berlin(1, 16), berlin(3, 10)) == timedelta(hours=2)


def test_business_hours_follow_the_local_clock_across_a_dst_change() -> None:
    summer = BusinessHours(BERLIN, frozenset(range(7)), time(9), time(17))
    # Sunday 2026-10-25 Berlin goes back from UTC+2 to UTC+1: opening is 08:00 UTC from then.
    saturday_close = datetime(2026, 10, 24, 15, 0, tzinfo=UTC)
    assert summer.add(saturday_close, timedelta(hours=1)) == datetime(2026, 10, 25, 9, tzinfo=UTC)


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=1, max_value=60 * 24 * 30),
)
def test_adding_business_time_and_counting_it_agree(start: datetime, minutes: int) -> None:
    span = timedelta(minutes=minutes)
    end = WEEK.add(start, span)
    assert end > start
    assert WEEK.elapsed(start, end) == span
    assert CalendarHours().elapsed(start, CalendarHours().add(start, span)) == span


def test_the_shipped_rules_load_and_name_targets_by_team_then_priority() -> None:
    shipped = resources.files("history").joinpath("time_rules.toml").read_text()
    rules = TimeRules.model_validate(tomllib.loads(shipped))
    security = rules.target_for("security", Priority.URGENT)
    cards = rules.target_for("cards", Priority.URGENT)
    assert security is not None
    assert cards is not None
    assert security.first_reply == timedelta(minutes=30)
    assert cards.first_reply == timedelta(hours=1)
    normal = rules.target_for("cards", Priority.NORMAL)
    assert normal is not None
    assert normal.business_hours
    assert {r.id for r in rules.automations} == {"remind-pending", "solve-pending", "close-solved"}


@pytest.mark.parametrize(
    ("rules", "complaint"),
    [
        (
            {"automations": [{"id": "c", "status": "solved", "after": "P29D", "action": "close"}]},
            "28",
        ),
        (
            {"automations": [{"id": "c", "status": "pending", "after": "P1D", "action": "close"}]},
            "solved",
        ),
        (
            {
                "automations": [
                    {
                        "id": "s",
                        "status": "pending",
                        "after": "P1D",
                        "action": "solve",
                        "counts_from": "nobody",
                    }
                ]
            },
            "counts_from",
        ),
        ({"targets": [{"priority": "urgent", "first_reply": "PT0S"}]}, "positive"),
        ({"targets": [{"priority": "urgent"}, {"priority": "urgent"}]}, "same priority"),
        ({"calendar": {"time_zone": "Mars/Olympus"}}, "time zone"),
        ({"calendar": {"opens": "18:00:00", "closes": "09:00:00"}}, "open before"),
        ({"calendar": {"working_days": []}}, "working day"),
        ({"warn_at": 1.5}, "warn_at"),
        ({"targets": [{"priority": "urgent", "first_replay": "PT1H"}]}, "first_replay"),
    ],
)
def test_a_rule_file_that_makes_no_sense_is_refused(
    rules: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        TimeRules.model_validate(rules)
