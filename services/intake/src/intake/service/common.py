"""Steps every intake use case shares."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from shared.logging import get_logger

log = get_logger(__name__)


async def best_effort(action: Awaitable[Any], what: str) -> None:
    """Clean-up after a failure; one failing must not hide the original error."""
    try:
        await action
    except Exception as exc:
        log.error("clean-up failed", step=what, error=repr(exc))
