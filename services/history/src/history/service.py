"""History's use cases: fold events into the projection, and answer the reads of customers,
agents and dashboards (the JSON API and the HTML pages call the same ones).

The fold is optimistic: read the requests a batch touches, fold its events in memory, write
each request back only over the version it was read at. A request another replica wrote in
between is folded again from a fresh read; the others are done.

With time rules, each written view carries its SLA clocks, and the requests whose timers
changed get them re-planned in the timer store first (one round trip for the batch): a crash
between the two writes leaves timers of a view not yet written, which the redelivered batch
writes again — never a written view without its timers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from history.access import may_read
from history.domain.clocks import Timer, plan
from history.domain.listing import (
    InvalidCursorError,
    ListQuery,
    Order,
    SortField,
    UnknownStatusError,
    decode_cursor,
    encode_cursor,
    normalise_search,
    statuses_for,
)
from history.domain.projection import RequestView, fold
from history.domain.queue import (
    UNASSIGNED,
    InvalidQueueQueryError,
    QueueQuery,
    choose_bucket,
)
from history.domain.queue import decode_cursor as decode_queue_cursor
from history.domain.queue import encode_cursor as encode_queue_cursor
from history.domain.stats import InvalidWindowError, SlaAttainment, Stats, StatsWindow
from history.domain.time_rules import TimeRules
from history.ports import RequestRepository, TimerStore, VersionedWrite
from shared.contracts.events import Envelope, Priority
from shared.contracts.identity import Principal
from shared.contracts.statuses import Status

MAX_CONFLICT_ROUNDS = 10


class ProjectionConflictError(RuntimeError):
    """Events still conflicted after every round (the batch is redelivered)."""


class InvalidQueryError(ValueError):
    """A read's parameter the caller must change; `field` names it (query.cursor, ...)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


class RequestNotFoundError(LookupError):
    """Unknown, or not the caller's to read: the two read the same."""


@dataclass(frozen=True, slots=True)
class ActivityFilter:
    """What a customer asks of their list: filters combine, pages follow `cursor`."""

    statuses: Sequence[Status] = ()
    public_statuses: Sequence[str] = ()
    search: str | None = None
    sort: SortField = SortField.CREATED
    order: Order = Order.DESC
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityPage:
    items: list[RequestView]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What an agent asks of a team's queue (default: what needs the team's work)."""

    statuses: Sequence[Status] = ()
    priority: Priority | None = None
    assignee: str | None = None
    unassigned: bool = False
    limit: int = 50
    cursor: str | None = None


class UnknownTeamError(LookupError):
    pass


@dataclass
class HistoryService:
    repository: RequestRepository
    # First version of a new document. A replay builds with a floor no live document reaches,
    # so a live write in flight across the swap can never match a rebuilt document's version:
    # it conflicts and is redone on a fresh read.
    version_floor: int = 0
    max_conflict_rounds: int = field(default=MAX_CONFLICT_ROUNDS)
    teams: tuple[str, ...] = ()  # the catalog's: a queue of any other reads as unknown
    rules: TimeRules | None = None  # SLA targets and automations; None: no time rules
    timers: TimerStore | None = None  # where the rules' timers go (the scheduler fires them)

    # -- the projection ----------------------------------------------------------------------

    async def apply_events(self, events: Sequence[Envelope]) -> int:
        """Fold the events into their requests; returns how many were new. Idempotent."""
        pending = list(events)
        applied = 0
        resync: set[str] = set()
        for _ in range(self.max_conflict_rounds):
            if not pending:
                return applied
            new, pending = await self._apply_round(pending, resync)
            resync = {e.ticket_id for e in pending}
            applied += new
        raise ProjectionConflictError(
            f"{len(pending)} events still conflict after {self.max_conflict_rounds} rounds"
        )

    async def _apply_round(
        self, events: list[Envelope], resync: set[str]
    ) -> tuple[int, list[Envelope]]:
        """One optimistic round; `resync`: requests whose timers a conflicted earlier round may
        have planned from a stale view (their plan is written whatever it was before)."""
        by_ticket: dict[str, list[Envelope]] = {}
        for event in events:
            by_ticket.setdefault(event.ticket_id, []).append(event)
        stored = await self.repository.load(sorted(by_ticket))
        writes: list[VersionedWrite] = []
        applied: dict[str, int] = {}
        plans: dict[str, tuple[Timer, ...]] = {}
        known: dict[str, tuple[Timer, ...]] = {}  # what the store holds, when it is known
        for ticket_id, ticket_events in by_ticket.items():
            current = stored.get(ticket_id)
            view, new = fold(current, ticket_events)
            if view is None or not new:
                continue
            base = current.version if current else 0
            update: dict[str, object] = {"version": (base or self.version_floor) + 1}
            if self.rules is not None:
                planned = plan(view, self.rules)
                update["sla"] = planned.clocks
                before = plan(current, self.rules).timers if current else ()
                if ticket_id in resync or _moments(planned.timers) != _moments(before):
                    plans[ticket_id] = planned.timers
                    if ticket_id not in resync:
                        known[ticket_id] = before
            writes.append(VersionedWrite(view.model_copy(update=update), base))
            applied[ticket_id] = new
        if not writes:
            return 0, []
        if plans and self.timers is not None:
            await self.timers.sync(plans, known)
        conflicted = await self.repository.write(writes)
        retry = [e for ticket_id in sorted(conflicted) for e in by_ticket[ticket_id]]
        return sum(n for t, n in applied.items() if t not in conflicted), retry

    # -- reads ---------------------------------------------------------------------------------

    async def list_activities(self, account_id: str, wanted: ActivityFilter) -> ActivityPage:
        """One page of a customer's own requests (the account comes from their token)."""
        try:
            statuses = statuses_for(wanted.statuses, wanted.public_statuses)
        except UnknownStatusError as exc:
            raise InvalidQueryError("query.public_status", str(exc)) from exc
        try:
            after = (
                decode_cursor(wanted.cursor, wanted.sort, wanted.order) if wanted.cursor else None
            )
        except InvalidCursorError as exc:
            raise InvalidQueryError("query.cursor", str(exc)) from exc
        page = await self.repository.list_page(
            ListQuery(
                account_id=account_id,
                statuses=statuses,
                search=normalise_search(wanted.search),
                sort=wanted.sort,
                order=wanted.order,
                limit=wanted.limit,
                after=after,
            )
        )
        next_cursor = (
            encode_cursor(wanted.sort, wanted.order, page.last_key) if page.last_key else None
        )
        return ActivityPage(items=page.items, next_cursor=next_cursor)

    async def team_queue(self, team: str, wanted: QueueFilter) -> ActivityPage:
        """One page of a team's queue: urgent first, then oldest first."""
        if team not in self.teams:
            raise UnknownTeamError(team)
        if wanted.assignee is not None and wanted.unassigned:
            raise InvalidQueryError("query.unassigned", "ask for an assignee or unassigned")
        try:
            bucket, statuses = choose_bucket(frozenset(wanted.statuses))
            query = QueueQuery(
                team=team,
                bucket=bucket,
                statuses=statuses,
                priority=wanted.priority,
                assignee=UNASSIGNED if wanted.unassigned else wanted.assignee,
                limit=wanted.limit,
            )
            if wanted.cursor:
                query = replace(query, after=decode_queue_cursor(wanted.cursor, query))
        except InvalidQueueQueryError as exc:
            raise InvalidQueryError(exc.field, str(exc)) from exc
        page = await self.repository.queue_page(query)
        next_cursor = encode_queue_cursor(query, page.last_key) if page.last_key else None
        return ActivityPage(items=page.items, next_cursor=next_cursor)

    async def request_for(self, principal: Principal, ticket_id: str) -> RequestView:
        """One request, if `principal` may read it (its owner, or an agent)."""
        view = await self.repository.get(ticket_id)
        if view is None or not may_read(principal, view):
            raise RequestNotFoundError(ticket_id)
        return view

    async def stats(
        self, start: datetime | None, end: datetime | None, *, now: datetime | None = None
    ) -> Stats:
        try:
            window = StatsWindow.of(start, end, now=now)
        except InvalidWindowError as exc:
            raise InvalidQueryError("query.from", str(exc)) from exc
        stats = await self.repository.stats(window)
        if self.rules is None:
            return stats
        rules = self.rules
        return stats.model_copy(update={"sla": [_with_target(rules, r) for r in stats.sla]})


def _moments(timers: Sequence[Timer]) -> set[tuple[str, object]]:
    return {(str(t.event_id), t.due_at) for t in timers}


def _with_target(rules: TimeRules, row: SlaAttainment) -> SlaAttainment:
    """The row with the target its team and priority have now."""
    target = rules.target_for(row.team, row.priority)
    span = target.of(row.metric) if target else None
    return row.model_copy(update={"target_seconds": int(span.total_seconds()) if span else None})
