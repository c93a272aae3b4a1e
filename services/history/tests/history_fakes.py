"""An in-memory RequestRepository with the semantics the MongoDB one has (a write lands only
over the version it expects; list pages are keyset pages over the same sort keys)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from history.domain.listing import ListQuery, Order, Page, SortField, sort_key
from history.domain.projection import RequestView
from history.domain.queue import UNASSIGNED, QueueQuery, queue_key, queue_of
from history.domain.stats import Durations, Stats, StatsWindow, Transfers
from history.ports import VersionedWrite


@dataclass
class FakeRequestRepository:
    views: dict[str, RequestView] = field(default_factory=dict)
    writes: int = 0  # round trips of write(), for the tests that count them
    # Called between a load and the write that follows: another writer's chance to interleave.
    between_load_and_write: list[VersionedWrite] = field(default_factory=list)

    async def load(self, ticket_ids: Sequence[str]) -> dict[str, RequestView]:
        found = {t: self.views[t] for t in ticket_ids if t in self.views}
        if self.between_load_and_write:  # someone else writes right after our read
            await self.write([self.between_load_and_write.pop(0)])
        return found

    async def write(self, writes: Sequence[VersionedWrite]) -> set[str]:
        await asyncio.sleep(0)
        self.writes += 1
        conflicted: set[str] = set()
        for w in writes:
            stored = self.views.get(w.view.ticket_id)
            if (stored.version if stored else 0) != w.expected_version:
                conflicted.add(w.view.ticket_id)
                continue
            self.views[w.view.ticket_id] = w.view
        return conflicted

    async def get(self, ticket_id: str) -> RequestView | None:
        return self.views.get(ticket_id)

    async def list_page(self, query: ListQuery) -> Page:
        def key(view: RequestView) -> str | None:
            if view.created_at is None:
                return None  # not listed before its submission is known
            at = view.created_at if query.sort is SortField.CREATED else view.updated_at
            return sort_key(at, view.ticket_id)

        descending = query.order is Order.DESC
        rows = [
            (k, v)
            for v in self.views.values()
            if v.account_id == query.account_id
            and (k := key(v)) is not None
            and (query.statuses is None or v.status in query.statuses)
            and (not query.search or query.search.casefold() in (v.subject or "").casefold())
            and (query.after is None or (k < query.after if descending else k > query.after))
        ]
        rows.sort(key=lambda row: row[0], reverse=descending)
        page = rows[: query.limit]
        more = len(rows) > query.limit
        return Page([v for _, v in page], page[-1][0] if more and page else None)

    async def queue_page(self, query: QueueQuery) -> Page:
        low, high = query.key_range()
        rows = []
        for v in self.views.values():
            if v.created_at is None or queue_of(v.team, v.status) != query.queue:
                continue
            if query.assignee is not None and (v.assignee or UNASSIGNED) != query.assignee:
                continue
            if query.statuses is not None and v.status not in query.statuses:
                continue
            key = queue_key(v.priority, v.created_at, v.ticket_id)
            if low <= key < high:
                rows.append((key, v))
        rows.sort(key=lambda row: row[0])
        page = rows[: query.limit]
        more = len(rows) > query.limit
        return Page([v for _, v in page], page[-1][0] if more and page else None)

    async def stats(self, window: StatsWindow) -> Stats:
        created = [
            v
            for v in self.views.values()
            if v.created_at is not None and window.start <= v.created_at < window.end
        ]
        none = Durations(count=0, median_seconds=None, p90_seconds=None)
        return Stats(
            window_from=window.start,
            window_to=window.end,
            requests=len(created),
            by_team_and_status=[],
            routed=sum(1 for v in created if v.routed_at),
            rerouted=sum(1 for v in created if v.rerouted_from),
            reroute_rate=None,
            time_to_route=none,
            time_to_first_reply=none,
            backlog=[],
            transfers=Transfers(
                count=sum(len(v.transfers) for v in created),
                requests=sum(1 for v in created if v.transfers),
                share_of_routed=None,
                by_route=[],
                by_original_reason=[],
                time_lost=none,
                first_time_right_rate=None,
                time_to_first_reply_transferred=none,
                time_to_first_reply_not_transferred=none,
            ),
        )
