"""What the history service needs from its store, as a protocol (adapters implement it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from history.domain.listing import ListQuery, Page
from history.domain.projection import RequestView
from history.domain.queue import QueueQuery
from history.domain.stats import Stats, StatsWindow


@dataclass(frozen=True, slots=True)
class VersionedWrite:
    """A request's new view, to be written only over the version it was folded from."""

    view: RequestView
    expected_version: int  # 0: no document existed


class RequestRepository(Protocol):
    async def load(self, ticket_ids: Sequence[str]) -> dict[str, RequestView]:
        """The stored views of these requests (missing ones are absent from the answer)."""

    async def write(self, writes: Sequence[VersionedWrite]) -> set[str]:
        """Write every view whose stored version is still the expected one, in one round trip;
        the ticket ids of those another writer changed in between (nothing written for them)."""

    async def get(self, ticket_id: str) -> RequestView | None: ...

    async def list_page(self, query: ListQuery) -> Page: ...

    async def queue_page(self, query: QueueQuery) -> Page:
        """One page of a team's queue; `Page.last_key` is a queue key."""

    async def stats(self, window: StatsWindow) -> Stats: ...
