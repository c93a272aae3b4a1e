from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from history.domain.listing import (
    InvalidCursorError,
    Order,
    SortField,
    UnknownStatusError,
    decode_cursor,
    encode_cursor,
    normalise_search,
    public_status_names,
    sort_key,
    statuses_for,
)
from history.domain.stats import InvalidWindowError, StatsWindow
from shared.contracts.statuses import Status

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def test_sort_keys_order_like_time_then_id_in_any_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    keys = [
        sort_key(T0, "AAAA-AAAA-AAAB"),
        sort_key(T0, "AAAA-AAAA-AAAA"),
        sort_key((T0 + timedelta(milliseconds=1)).astimezone(plus_two), "AAAA-AAAA-AAAA"),
        sort_key(T0 - timedelta(days=400), "ZZZZ-ZZZZ-ZZZZ"),
    ]
    assert sorted(keys) == [keys[3], keys[1], keys[0], keys[2]]
    assert keys[1] == "2026-11-01T09:00:00.000Z|AAAA-AAAA-AAAA"


def test_cursor_round_trip_is_opaque_and_url_safe() -> None:
    key = sort_key(T0, "7KQ2-M9XD-4TRA")
    cursor = encode_cursor(SortField.UPDATED, Order.ASC, key)
    assert key not in cursor
    assert "=" not in cursor
    assert "+" not in cursor
    assert "/" not in cursor
    assert decode_cursor(cursor, SortField.UPDATED, Order.ASC) == key


def test_a_cursor_of_another_order_is_refused() -> None:
    cursor = encode_cursor(SortField.CREATED, Order.DESC, sort_key(T0, "7KQ2-M9XD-4TRA"))
    with pytest.raises(InvalidCursorError, match="sort=created&order=desc"):
        decode_cursor(cursor, SortField.CREATED, Order.ASC)


@pytest.mark.parametrize(
    "raw",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"v1|created|desc|{'$gt': ''}").decode(),
        base64.urlsafe_b64encode(b"v1|created|desc|2026-11-01T09:00:00.000Z|x").decode(),
        base64.urlsafe_b64encode(
            b"v0|created|desc|2026-11-01T09:00:00.000Z|7KQ2-M9XD-4TRA"
        ).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_forged_cursors_are_refused(raw: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(raw, SortField.CREATED, Order.DESC)


def test_status_filters() -> None:
    assert statuses_for() is None
    assert statuses_for([Status.PENDING]) == frozenset({Status.PENDING})
    assert statuses_for(public_names=["open"]) == frozenset(
        {Status.NEW, Status.OPEN, Status.ON_HOLD}
    )
    assert statuses_for(public_names=["Awaiting your reply", "Solved"]) == frozenset(
        {Status.PENDING, Status.SOLVED}
    )
    # both given: both must hold
    assert statuses_for([Status.OPEN, Status.CLOSED], ["Open"]) == frozenset({Status.OPEN})
    assert statuses_for([Status.CLOSED], ["Open"]) == frozenset()
    with pytest.raises(UnknownStatusError, match="Awaiting your reply"):
        statuses_for(public_names=["waiting"])
    assert public_status_names() == ["Open", "Awaiting your reply", "Solved", "Closed"]


def test_search_text_is_normalised() -> None:
    assert normalise_search("  withdrawal   stuck ") == "withdrawal stuck"
    assert normalise_search("   ") is None
    assert normalise_search(None) is None
    assert len(normalise_search("x" * 500) or "") == 100


def test_stats_window_defaults_and_limits() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    window = StatsWindow.of(None, None, now=now)
    assert (window.start, window.end) == (now - timedelta(days=7), now)
    naive = StatsWindow.of(datetime(2026, 11, 1), datetime(2026, 11, 2))
    assert naive.start == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(InvalidWindowError):
        StatsWindow.of(now, now)
    with pytest.raises(InvalidWindowError):
        StatsWindow.of(now - timedelta(days=400), now)
