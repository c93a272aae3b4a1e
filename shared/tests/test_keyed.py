"""in_key_order: per-key order, bounded concurrency, failures isolated to their key."""

from __future__ import annotations

import asyncio

import pytest

from shared.keyed import in_key_order

pytestmark = pytest.mark.unit


async def test_same_key_in_order_other_keys_concurrently_within_the_bound() -> None:
    items = [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2), ("a", 3), ("d", 1)]
    done: list[tuple[str, int]] = []
    running = 0
    peak = 0
    both_started = asyncio.Event()

    async def work(item: tuple[str, int]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if peak >= 2:
            both_started.set()
        # Each item waits until two keys are in flight: proves concurrency without timing.
        await asyncio.wait_for(both_started.wait(), timeout=5)
        await asyncio.sleep(0)
        done.append(item)
        running -= 1

    await in_key_order(items, key=lambda i: i[0], work=work, concurrency=2)
    assert sorted(done) == sorted(items)
    for k in "abcd":
        assert [n for key, n in done if key == k] == sorted(n for key, n in items if key == k)
    assert peak == 2


async def test_a_failure_stops_its_key_lets_others_finish_then_is_raised() -> None:
    done: list[str] = []

    async def work(item: str) -> None:
        if item == "a1":
            raise ConnectionError("mongo away")
        done.append(item)

    with pytest.raises(ConnectionError):
        await in_key_order(
            ["a1", "b1", "a2", "b2", "c1"], key=lambda i: i[0], work=work, concurrency=1
        )
    assert "a2" not in done  # after a1 failed, its key's later items wait for the redelivery
    assert done == ["b1", "b2", "c1"]


async def test_nothing_to_do_and_a_bad_bound() -> None:
    async def work(item: int) -> None:
        raise AssertionError("not called")

    await in_key_order([], key=lambda i: i, work=work, concurrency=4)
    with pytest.raises(ValueError, match="at least 1"):
        await in_key_order([1], key=lambda i: i, work=work, concurrency=0)
