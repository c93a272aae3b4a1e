"""Progress of a bench phase on stderr: a bar per stage (sent, then each stage its requests
reach), with the rate, redrawn while the phase runs (tqdm; off when stderr is no terminal,
so logs and tests read the plain lines)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from tqdm import tqdm

Count = Callable[[], int]


@contextlib.asynccontextmanager
async def phase_bars(
    phase: str,
    total: int,
    counts: Mapping[str, Count],
    interval: float = 0.5,
    shown: bool | None = None,  # None: on a terminal only
) -> AsyncIterator[dict[str, tqdm[Any]]]:
    """While the block runs, one bar per entry of `counts` (e.g. sent, team, history, email)."""
    bars: dict[str, tqdm[Any]] = {
        name: tqdm(
            total=total,
            desc=f"{phase:<8} {name:<8}",
            unit="req",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=None if shown is None else not shown,
            leave=True,
        )
        for name in counts
    }

    def draw() -> None:
        for name, bar in bars.items():
            bar.update(min(counts[name](), total) - bar.n)

    async def redraw() -> None:
        while True:
            draw()
            await asyncio.sleep(interval)

    task = asyncio.create_task(redraw())
    try:
        yield bars
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        draw()
        for bar in bars.values():
            bar.close()
