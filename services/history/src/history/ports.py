"""What the history service needs from the outside world, as protocols (adapters implement
them): its store, the scheduler's timers and publisher, and the intake — where the pages
send what customers write."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Protocol

from history.domain.clocks import Timer
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


@dataclass(frozen=True, slots=True)
class ClaimedTimer:
    """A due timer this scheduler holds the lease of."""

    timer_id: str
    ticket_id: str
    key: str
    event_id: str
    due_at: datetime


class TimerStore(Protocol):
    """Timers in a durable store: written with the projection, claimed with a lease, so a
    scheduler that dies lets go of its timers and two schedulers never hold the same one."""

    async def sync(
        self,
        plans: Mapping[str, Sequence[Timer]],
        before: Mapping[str, Sequence[Timer]] | None = None,
    ) -> None:
        """Make each request's timers its plan's: new ones due, moved ones re-timed, ones the
        plan dropped gone; a fired one stays fired. `before`: the plans the store is known to
        hold (only what they drop is deleted; a request absent from it loses every timer not
        in its plan). One round trip when nothing is dropped, two when something is."""

    async def claim(
        self, now: datetime, limit: int, lease: timedelta, owner: str
    ) -> list[ClaimedTimer]:
        """Up to `limit` timers due at `now` whose lease is free, leased to `owner`."""

    async def finish(self, timer_ids: Sequence[str], owner: str, now: datetime) -> int:
        """Mark the timers `owner` still holds as fired; how many were."""

    async def reschedule(self, due: Mapping[str, datetime], owner: str) -> None:
        """Timers the plan moved later than the store knew: due then, their lease let go."""

    async def next_due(self) -> datetime | None:
        """When the earliest unfired timer is due."""


class EventPublisher(Protocol):
    async def publish_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Publish (topic, event) pairs and return once the broker acknowledged every one."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A file a customer chose in a form, passed on as it came."""

    filename: str
    content_type: str
    content: BinaryIO


@dataclass(frozen=True, slots=True)
class IntakeAnswer:
    """What the intake answered: its status and JSON body (problem+json for errors)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Download:
    status: int
    headers: Mapping[str, str]
    chunks: AsyncIterator[bytes]


class IntakeUnavailableError(ConnectionError):
    """The intake did not answer (down, or too slow): nothing was sent, or nothing is known."""


class IntakeGateway(Protocol):
    """The intake's HTTP API, as the pages use it: always as the signed-in customer (their
    own token) or as the holder of a recovery link — the pages add no rights of their own."""

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        token: str | None = None,
        idempotency_key: str | None = None,
        client: str | None = None,
        locale: str | None = None,
    ) -> IntakeAnswer: ...

    async def post_form(
        self,
        path: str,
        fields: Mapping[str, str],
        files: Sequence[Upload],
        *,
        token: str | None = None,
        idempotency_key: str | None = None,
        client: str | None = None,
    ) -> IntakeAnswer: ...

    async def download(self, path: str, *, token: str) -> Download: ...
