"""The projection store: one document per request, written in bulk with optimistic
concurrency (a version per document), so replicas consuming different topics never lose
each other's updates.

Query shapes are chosen for the indexes: a list page is an equality on the account plus a
range on one sort key, which both mongod and SecantusDB answer from the compound index
(SecantusDB only uses an index when the whole filter fits it; mongod also keeps using it with
the status and subject filters added, as residual filters over one account's documents).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from history.domain.listing import ListQuery, Order, Page, SortField, sort_key
from history.domain.projection import RequestView
from history.domain.queue import UNASSIGNED, QueueQuery, queue_key, queue_of
from history.domain.stats import (
    AGE_BUCKETS,
    BACKLOG_STATUSES,
    UNROUTED,
    BacklogAge,
    Durations,
    ReasonCount,
    SlaAttainment,
    Stats,
    StatsWindow,
    TeamBacklog,
    TeamRoute,
    TeamStatusCount,
    Transfers,
    millis_to_seconds,
    reroute_rate,
    share,
)
from history.ports import VersionedWrite
from shared.mongo import Document

_DUPLICATE_KEY = 11000

SORT_KEY_FIELDS: dict[SortField, str] = {
    SortField.CREATED: "created_key",
    SortField.UPDATED: "updated_key",
}
# Ascending on purpose: mongod walks an index backwards just as well, and SecantusDB
# 0.7.0b3 answers a `$gt` range on a descending string key with nothing.
INDEXES: dict[str, list[tuple[str, int]]] = {
    "account_created": [("account_id", ASCENDING), ("created_key", ASCENDING)],
    "account_updated": [("account_id", ASCENDING), ("updated_key", ASCENDING)],
    "created_at": [("created_at", ASCENDING)],  # the stats window
    "status_team": [("status", ASCENDING), ("team", ASCENDING)],  # the backlog
    "queue": [("queue", ASCENDING), ("queue_key", ASCENDING)],  # a team's queue
    "queue_assignee": [("queue_assignee", ASCENDING), ("queue_key", ASCENDING)],  # an agent's
}
# What a list item needs: never the timeline or the dedup set.
LIST_PROJECTION = {"timeline": 0, "applied_event_ids": 0}


def to_document(view: RequestView) -> Document:
    document = view.model_dump(mode="python")
    document["_id"] = view.ticket_id
    document["status"] = view.status.value
    document["priority"] = view.priority.value
    document["public_status"] = view.public_status
    if view.status_changed_to is not None:
        document["status_changed_to"] = view.status_changed_to.value
    # A request is listed once its submission is known (it brings the subject and the
    # creation time); events that overtook it build the document without sort keys.
    created = view.created_at
    listed = created is not None
    document["created_key"] = sort_key(created, view.ticket_id) if created else None
    document["updated_key"] = sort_key(view.updated_at, view.ticket_id) if listed else None
    queue = queue_of(view.team, view.status) if listed else None
    document["queue"] = queue
    document["queue_assignee"] = f"{queue}|{view.assignee or UNASSIGNED}" if queue else None
    document["queue_key"] = queue_key(view.priority, created, view.ticket_id) if created else None
    # What the dashboards aggregate without reading the transfers one by one.
    document["transfer_count"] = len(view.transfers)
    document["first_transferred_at"] = view.first_transferred_at
    return document


def from_document(document: Document) -> RequestView:
    return RequestView.model_validate(document)


class MongoRequestRepository:
    """The RequestRepository port on MongoDB."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._requests = collection

    @property
    def collection(self) -> AsyncCollection[Document]:
        return self._requests

    async def ensure_indexes(self) -> None:
        for name, keys in INDEXES.items():
            await self._requests.create_index(keys, name=name)

    # -- writes -------------------------------------------------------------------------------

    async def load(self, ticket_ids: Sequence[str]) -> dict[str, RequestView]:
        cursor = self._requests.find({"_id": {"$in": list(ticket_ids)}})
        return {d["_id"]: from_document(d) async for d in cursor}

    async def write(self, writes: Sequence[VersionedWrite]) -> set[str]:
        # Each replace matches only the version read (no document has version 0, so a new
        # request is inserted). If someone wrote in between, the upsert collides on _id.
        operations = [
            ReplaceOne(
                {"_id": w.view.ticket_id, "version": w.expected_version},
                to_document(w.view),
                upsert=True,
            )
            for w in writes
        ]
        try:
            await self._requests.bulk_write(operations, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            return {writes[e["index"]].view.ticket_id for e in errors}
        return set()

    # -- reads --------------------------------------------------------------------------------

    async def get(self, ticket_id: str) -> RequestView | None:
        document = await self._requests.find_one({"_id": ticket_id})
        return from_document(document) if document else None

    def list_filter(self, query: ListQuery) -> tuple[Document, list[tuple[str, int]]]:
        """The find filter and sort of one list page."""
        key_field = SORT_KEY_FIELDS[query.sort]
        descending = query.order is Order.DESC
        if query.after is not None:
            key_range: Document = {"$lt" if descending else "$gt": query.after}
        else:
            key_range = {"$gt": ""}  # every listed request: unlisted ones have no key
        filter_: Document = {"account_id": query.account_id, key_field: key_range}
        if query.statuses is not None:
            filter_["status"] = {"$in": sorted(s.value for s in query.statuses)}
        if query.search:
            # Literal, case-insensitive substring: the customer's text is escaped, never a
            # pattern (no operator injection, no catastrophic backtracking).
            filter_["subject"] = {"$regex": re.escape(query.search), "$options": "i"}
        return filter_, [(key_field, DESCENDING if descending else ASCENDING)]

    async def list_page(self, query: ListQuery) -> Page:
        if query.statuses is not None and not query.statuses:
            return Page([], None)
        filter_, sort = self.list_filter(query)
        cursor = self._requests.find(filter_, LIST_PROJECTION).sort(sort).limit(query.limit + 1)
        documents = [d async for d in cursor]
        more = len(documents) > query.limit
        documents = documents[: query.limit]
        key_field = sort[0][0]
        last_key = documents[-1][key_field] if more and documents else None
        return Page([from_document(d) for d in documents], last_key)

    def queue_filter(self, query: QueueQuery) -> Document:
        low, high = query.key_range()
        key_range = {"$gte": low, "$lt": high}
        if query.assignee is not None:
            filter_: Document = {"queue_assignee": f"{query.queue}|{query.assignee}"}
        else:
            filter_ = {"queue": query.queue}
        filter_["queue_key"] = key_range
        if query.statuses is not None:  # within the bucket: a residual filter on few documents
            filter_["status"] = {"$in": sorted(s.value for s in query.statuses)}
        return filter_

    async def queue_page(self, query: QueueQuery) -> Page:
        cursor = (
            self._requests.find(self.queue_filter(query), LIST_PROJECTION)
            .sort([("queue_key", ASCENDING)])
            .limit(query.limit + 1)
        )
        documents = [d async for d in cursor]
        more = len(documents) > query.limit
        documents = documents[: query.limit]
        last_key = documents[-1]["queue_key"] if more and documents else None
        return Page([from_document(d) for d in documents], last_key)

    async def explain_queue(self, query: QueueQuery) -> Document:
        """The server's plan for one queue page (a test asserts that it uses an index)."""
        cursor = (
            self._requests.find(self.queue_filter(query), LIST_PROJECTION)
            .sort([("queue_key", ASCENDING)])
            .limit(query.limit + 1)
        )
        plan: Document = await cursor.explain()
        return plan

    async def explain_list(self, query: ListQuery) -> Document:
        """The server's query plan for one list page (tests assert that it uses an index)."""
        filter_, sort = self.list_filter(query)
        cursor = self._requests.find(filter_, LIST_PROJECTION).sort(sort).limit(query.limit + 1)
        plan: Document = await cursor.explain()
        return plan

    async def stats(self, window: StatsWindow) -> Stats:
        """Aggregated on the server; only the fields the figures need ever leave a stage."""
        created = {"$gte": window.start, "$lt": window.end}
        pipeline: list[Document] = [
            {"$match": {"created_at": created}},
            {
                "$project": {
                    "_id": 0,
                    "team": {"$ifNull": ["$team", UNROUTED]},
                    "status": 1,
                    "routed": {"$cond": [{"$ifNull": ["$routed_at", False]}, 1, 0]},
                    "rerouted": {"$cond": [{"$ifNull": ["$rerouted_from", False]}, 1, 0]},
                    "route_ms": _elapsed_ms("$routed_at"),
                    "reply_ms": _elapsed_ms("$first_reply_at"),
                    "moved": {"$cond": [{"$gt": ["$transfer_count", 0]}, 1, 0]},
                    "moves": "$transfer_count",
                    "transfers": 1,
                    "resolved": {"$cond": [{"$in": ["$status", ["solved", "closed"]]}, 1, 0]},
                    "lost_ms": _elapsed_ms("$first_transferred_at", since="$routed_at"),
                    "sla": 1,
                }
            },
            {
                "$facet": {
                    "by_team_and_status": [
                        {"$group": {"_id": {"team": "$team", "status": "$status"}, "n": _COUNT}}
                    ],
                    "totals": [
                        {
                            "$group": {
                                "_id": None,
                                "requests": _COUNT,
                                "routed": {"$sum": "$routed"},
                                "rerouted": {"$sum": "$rerouted"},
                                "moved": {"$sum": "$moved"},
                                "moves": {"$sum": "$moves"},
                                "resolved": {"$sum": "$resolved"},
                                "resolved_moved": {"$sum": {"$multiply": ["$resolved", "$moved"]}},
                            }
                        }
                    ],
                    "route": _percentiles("$route_ms"),
                    "reply": _percentiles("$reply_ms"),
                    "lost": _percentiles("$lost_ms"),
                    "reply_moved": [{"$match": {"moved": 1}}, *_percentiles("$reply_ms")],
                    "reply_direct": [{"$match": {"moved": 0}}, *_percentiles("$reply_ms")],
                    "by_route": [
                        {"$match": {"moved": 1}},
                        {"$unwind": "$transfers"},
                        {
                            "$group": {
                                "_id": {
                                    "from": "$transfers.from_team",
                                    "to": "$transfers.to_team",
                                },
                                "n": _COUNT,
                            }
                        },
                    ],
                    "by_reason": [
                        {"$match": {"moved": 1}},
                        {"$unwind": "$transfers"},
                        {"$group": {"_id": "$transfers.original_reason", "n": _COUNT}},
                    ],
                    "sla_counts": [
                        {"$unwind": "$sla"},
                        {
                            "$group": {
                                "_id": _SLA_KEY,
                                "met": {"$sum": "$sla.met"},
                                "breached": {"$sum": "$sla.breached"},
                            }
                        },
                    ],
                    "sla_times": [
                        {"$unwind": "$sla"},
                        {"$unwind": "$sla.settled_seconds"},
                        {
                            "$group": {
                                "_id": _SLA_KEY,
                                "q": {
                                    "$percentile": {
                                        "input": "$sla.settled_seconds",
                                        "p": [0.5],
                                        "method": "approximate",
                                    }
                                },
                            }
                        },
                    ],
                }
            },
        ]
        facets = await (await self._requests.aggregate(pipeline)).to_list(1)
        facet = facets[0] if facets else {}
        totals = (facet.get("totals") or [{}])[0]
        backlog_pipeline: list[Document] = [
            {"$match": {"status": {"$in": sorted(s.value for s in BACKLOG_STATUSES)}}},
            {
                "$group": {
                    "_id": {"$ifNull": ["$team", UNROUTED]},
                    "n": _COUNT,
                    **_age_counts(window.now),
                }
            },
        ]
        backlog = await (await self._requests.aggregate(backlog_pipeline)).to_list(None)
        routed, rerouted = int(totals.get("routed", 0)), int(totals.get("rerouted", 0))
        return Stats(
            window_from=window.start,
            window_to=window.end,
            requests=int(totals.get("requests", 0)),
            by_team_and_status=sorted(
                (
                    TeamStatusCount(team=g["_id"]["team"], status=g["_id"]["status"], count=g["n"])
                    for g in facet.get("by_team_and_status", [])
                ),
                key=lambda c: (c.team, c.status.value),
            ),
            routed=routed,
            rerouted=rerouted,
            reroute_rate=reroute_rate(routed, rerouted),
            time_to_route=_durations(facet.get("route")),
            time_to_first_reply=_durations(facet.get("reply")),
            backlog=sorted(
                (TeamBacklog(team=g["_id"], count=g["n"]) for g in backlog),
                key=lambda b: b.team,
            ),
            transfers=_transfers(facet, totals, routed),
            sla=_attainment(facet),
            backlog_by_age=[
                BacklogAge(team=g["_id"], age=label, count=int(g.get(f"age{n}", 0)))
                for g in sorted(backlog, key=lambda g: str(g["_id"]))
                for n, (label, _) in enumerate(AGE_BUCKETS)
                if g.get(f"age{n}")
            ],
        )


_COUNT: Document = {"$sum": 1}
_SLA_KEY: Document = {"team": "$sla.team", "priority": "$sla.priority", "metric": "$sla.metric"}


def _age_counts(now: datetime) -> Document:
    """One count per backlog age bucket: created in [now - upper, now - lower)."""
    counts: Document = {}
    lower = None
    for n, (_, upper) in enumerate(AGE_BUCKETS):
        conditions: list[Document] = []
        if lower is not None:
            conditions.append({"$lt": ["$created_at", now - lower]})
        if upper is not None:
            conditions.append({"$gte": ["$created_at", now - upper]})
        counts[f"age{n}"] = {"$sum": {"$cond": [{"$and": conditions}, 1, 0]}}
        lower = upper
    return counts


def _attainment(facet: Document) -> list[SlaAttainment]:
    medians = {
        tuple(sorted(g["_id"].items())): g["q"][0] for g in facet.get("sla_times", []) if g["q"]
    }
    rows = []
    for group in facet.get("sla_counts", []):
        key = group["_id"]
        met, breached = int(group["met"]), int(group["breached"])
        median = medians.get(tuple(sorted(key.items())))
        rows.append(
            SlaAttainment(
                team=key["team"],
                priority=key["priority"],
                metric=key["metric"],
                target_seconds=None,
                met=met,
                breached=breached,
                attainment=share(met, met + breached),
                median_seconds=round(median, 3) if median is not None else None,
            )
        )
    return sorted(rows, key=lambda r: (r.team, r.priority.value, r.metric.value))


def _elapsed_ms(field: str, since: str = "$created_at") -> Document:
    """Milliseconds from `since` (creation) to `field`, or null when either is missing."""
    both = {"$and": [{"$ifNull": [field, False]}, {"$ifNull": [since, False]}]}
    return {"$cond": [both, {"$subtract": [field, since]}, None]}


def _transfers(facet: Document, totals: Document, routed: int) -> Transfers:
    moved, resolved = int(totals.get("moved", 0)), int(totals.get("resolved", 0))
    resolved_direct = resolved - int(totals.get("resolved_moved", 0))
    return Transfers(
        count=int(totals.get("moves", 0) or 0),
        requests=moved,
        share_of_routed=share(moved, routed),
        by_route=sorted(
            (
                TeamRoute(from_team=g["_id"]["from"], to_team=g["_id"]["to"], count=g["n"])
                for g in facet.get("by_route", [])
            ),
            key=lambda r: (-r.count, r.from_team, r.to_team),
        ),
        by_original_reason=sorted(
            (ReasonCount(reason=g["_id"] or "?", count=g["n"]) for g in facet.get("by_reason", [])),
            key=lambda r: (-r.count, r.reason),
        ),
        time_lost=_durations(facet.get("lost")),
        first_time_right_rate=share(resolved_direct, resolved),
        time_to_first_reply_transferred=_durations(facet.get("reply_moved")),
        time_to_first_reply_not_transferred=_durations(facet.get("reply_direct")),
    )


def _percentiles(field: str) -> list[Document]:
    return [
        {"$match": {field[1:]: {"$ne": None}}},
        {
            "$group": {
                "_id": None,
                "n": _COUNT,
                # mongod 7.0+ computes these; "approximate" is the only method it offers.
                "q": {"$percentile": {"input": field, "p": [0.5, 0.9], "method": "approximate"}},
            }
        },
    ]


def _durations(groups: list[Document] | None) -> Durations:
    if not groups:
        return Durations(count=0, median_seconds=None, p90_seconds=None)
    median, p90 = groups[0]["q"]
    return Durations(
        count=int(groups[0]["n"]),
        median_seconds=millis_to_seconds(median),
        p90_seconds=millis_to_seconds(p90),
    )
