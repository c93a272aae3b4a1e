from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from shared.contracts.events import Envelope


class EventPublisher(Protocol):
    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        """Publish all and return once the broker acknowledged every one."""
