from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from typing import Protocol

from shared.contracts.directory import AccountRecord
from shared.contracts.events import Envelope


class EventPublisher(Protocol):
    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        """Publish all and return once the broker acknowledged every one."""

    async def send_many(self, items: Iterable[tuple[str, Envelope]]) -> Awaitable[None]:
        """Hand all to the producer and return at once, with what completes once the broker
        acknowledged every one (and raises the first failure)."""


class AccountDirectory(Protocol):
    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        """Every asked id, with its record or None when the directory has none."""


class LanguageOf(Protocol):
    def language_of(self, text: str) -> str | None:
        """ISO 639-1 of the text's language; None when it cannot be told."""
