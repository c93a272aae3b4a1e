"""Concurrency that keeps Kafka's per-key order: a batch's items with the same key (one
request's events) run one after another in their order; different keys run concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def in_key_order(
    items: Iterable[T],
    key: Callable[[T], Hashable],
    work: Callable[[T], Awaitable[None]],
    *,
    concurrency: int,
) -> None:
    """Run `work` on every item, at most `concurrency` keys at a time. When an item fails, the
    later items of its key are not started (their order matters) but the other keys finish;
    then the first failure is raised (the caller's batch is redelivered, so every effect must
    be idempotent)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    slots = asyncio.Semaphore(concurrency)

    async def run(group: list[T]) -> None:
        async with slots:
            for item in group:
                await work(item)

    outcomes = await asyncio.gather(*(run(g) for g in groups.values()), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
