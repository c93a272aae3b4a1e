"""The projection store against a real MongoDB wire protocol (embedded SecantusDB or a
testcontainers MongoDB)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from devstack.stack import EmbeddedStack
from history.adapters.mongo import MongoRequestRepository
from history.domain.listing import ListQuery, Order, SortField
from history.domain.queue import UNASSIGNED, QueueQuery
from history.domain.stats import StatsWindow
from history.service import HistoryService, QueueFilter
from shared.contracts.events import (
    AgentReplied,
    Envelope,
    Priority,
    RequestContent,
    RoutingDecision,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    TicketTransferred,
    Transfer,
    new_ticket_id,
)
from shared.contracts.statuses import Status
from shared.mongo import Document

from .test_history_projection import T0, story

pytestmark = pytest.mark.integration


async def apply(repository: MongoRequestRepository, events: list[Envelope]) -> int:
    """The projection's fold, on the store under test."""
    return await HistoryService(repository).apply_events(events)


@pytest.fixture
async def repository(infra: EmbeddedStack) -> AsyncIterator[MongoRequestRepository]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.config.mongo_url, tz_aware=True)
    repository = MongoRequestRepository(client["history_test"][f"requests_{uuid4().hex[:8]}"])
    await repository.ensure_indexes()
    yield repository
    await repository.collection.drop()
    await client.close()


def request(
    account_id: str,
    created_after: timedelta,
    subject: str = "Withdrawal stuck",
    *,
    route_after: timedelta | None = None,
    team: str = "withdrawals-transfers",
    rerouted: bool = False,
    reply_after: timedelta | None = None,
    status: Status | None = None,
) -> list[Envelope]:
    """One request's events: submitted at T0 + created_after, optionally routed, replied, and
    moved to `status`."""
    ids = {"ticket_id": new_ticket_id(), "account_id": account_id, "correlation_id": "c"}
    created = T0 + created_after
    events: list[Envelope] = [
        TicketSubmitted(
            **ids, occurred_at=created, category="c", subject=subject, description="secret text"
        )
    ]
    if route_after is not None:
        events.append(
            TicketRouted(
                **ids,
                occurred_at=created + route_after,
                team=team,
                confidence=0.9,
                customer_category="c",
                rerouted_from="cards" if rerouted else None,
                reason="model",
                model_version="m",
            )
        )
    if reply_after is not None:
        events.append(
            AgentReplied(
                **ids, occurred_at=created + reply_after, agent_id="agent-1", body="secret reply"
            )
        )
    if status is not None:
        events.append(
            StatusChanged(
                **ids,
                occurred_at=created + timedelta(days=1),
                actor_id="agent-1",
                actor_role="agent",
                status_change=StatusTransition(from_status=Status.OPEN, to_status=status),
            )
        )
    return events


async def test_batch_apply_is_idempotent(repository: MongoRequestRepository) -> None:
    events = story()
    assert await apply(repository, events) == len(events)
    assert await apply(repository, events) == 0
    view = await repository.get(events[0].ticket_id)
    assert view is not None
    assert view.status is Status.SOLVED
    assert len(view.timeline) == len(events)
    assert view.version == 1


async def test_concurrent_writers_lose_nothing(repository: MongoRequestRepository) -> None:
    events = story()
    # two replicas applying different events of the same request at the same time
    await asyncio.gather(*(apply(repository, [e]) for e in events))
    view = await repository.get(events[0].ticket_id)
    assert view is not None
    assert len(view.timeline) == len(events)
    assert view.status is Status.SOLVED


async def test_a_request_is_listed_once_its_submission_is_known(
    repository: MongoRequestRepository,
) -> None:
    submitted, routed, *_ = story()
    await apply(repository, [routed])  # overtook the submission
    assert (await repository.list_page(ListQuery("acc-1001"))).items == []
    await apply(repository, [submitted])
    [item] = (await repository.list_page(ListQuery("acc-1001"))).items
    assert (item.subject, item.team, item.timeline) == ("Stuck", "withdrawals-transfers", ())


async def test_list_is_per_account_newest_first(repository: MongoRequestRepository) -> None:
    first, second = request("acc-1001", timedelta(0)), request("acc-1001", timedelta(hours=1))
    other = request("acc-1002", timedelta(minutes=30))
    await apply(repository, first + second + other)
    listed = await repository.list_page(ListQuery("acc-1001"))
    assert [v.ticket_id for v in listed.items] == [second[0].ticket_id, first[0].ticket_id]
    assert listed.last_key is None
    assert (await repository.list_page(ListQuery("acc-1001", statuses=frozenset()))).items == []


async def all_pages(
    repository: MongoRequestRepository,
    query: ListQuery,
    between_pages: Callable[[], Awaitable[object]] | None = None,
) -> list[str]:
    """Every ticket id, page by page, following each page's last key."""
    seen: list[str] = []
    while True:
        page = await repository.list_page(query)
        seen += [v.ticket_id for v in page.items]
        if page.last_key is None:
            return seen
        query = replace(query, after=page.last_key)
        if between_pages is not None:
            await between_pages()
            between_pages = None


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        (SortField.CREATED, Order.DESC),
        (SortField.CREATED, Order.ASC),
        (SortField.UPDATED, Order.DESC),
    ],
)
async def test_pages_walk_every_request_once_and_stay_stable_under_inserts(
    repository: MongoRequestRepository, sort: SortField, order: Order
) -> None:
    # 12 requests, two of them submitted in the same millisecond (the id breaks the tie)
    requests = [request("acc-1001", timedelta(minutes=4 if i == 5 else i)) for i in range(12)]
    await apply(repository, [e for r in requests for e in r])
    query = ListQuery("acc-1001", sort=sort, order=order, limit=5)
    before = await all_pages(repository, query)
    assert sorted(before) == sorted(r[0].ticket_id for r in requests)

    async def others_arrive() -> None:
        # newer, older and another account's requests land between two pages
        await apply(
            repository,
            request("acc-1001", timedelta(days=1))
            + request("acc-1001", -timedelta(days=1))
            + request("acc-1002", timedelta(minutes=3)),
        )

    during = await all_pages(repository, query, others_arrive)
    assert len(during) == len(set(during))  # nothing twice
    assert [t for t in during if t in before] == before  # nothing skipped, same order


async def test_filters_and_literal_case_insensitive_search(
    repository: MongoRequestRepository,
) -> None:
    pending = request(
        "acc-1001", timedelta(0), "Withdrawal (BTC) stuck [urgent]", status=Status.PENDING
    )
    solved = request("acc-1001", timedelta(1), "Card not arrived", status=Status.SOLVED)
    fresh = request("acc-1001", timedelta(2), "Deposit .* missing")
    theirs = request("acc-1002", timedelta(3), "Withdrawal (BTC) stuck [urgent]")
    await apply(repository, pending + solved + fresh + theirs)

    async def ids(**filters: Any) -> set[str]:
        page = await repository.list_page(ListQuery("acc-1001", **filters))
        return {v.ticket_id for v in page.items}

    assert await ids(statuses=frozenset({Status.PENDING})) == {pending[0].ticket_id}
    assert await ids(statuses=frozenset({Status.NEW, Status.SOLVED})) == {
        solved[0].ticket_id,
        fresh[0].ticket_id,
    }
    assert await ids(search="(btc) STUCK [") == {pending[0].ticket_id}
    assert await ids(search="card") == {solved[0].ticket_id}
    # regex syntax is matched literally: no injection, no "match everything"
    assert await ids(search=".*") == {fresh[0].ticket_id}
    assert await ids(search="^W") == set()
    assert await ids(search="a|b") == set()
    assert await ids(search="card", statuses=frozenset({Status.PENDING})) == set()


def plan_stages(plan: Any) -> list[Document]:
    """Every stage of an explain's winning plan, whatever its nesting (inputStage,
    inputStages, queryPlan)."""
    found: list[Document] = []
    if isinstance(plan, dict):
        if "stage" in plan:
            found.append(plan)
        for key in ("inputStage", "queryPlan"):
            found += plan_stages(plan.get(key))
        for child in plan.get("inputStages", []):
            found += plan_stages(child)
    return found


@pytest.mark.parametrize(
    ("sort", "index"),
    [(SortField.CREATED, "account_created"), (SortField.UPDATED, "account_updated")],
)
async def test_the_list_query_uses_the_account_index(
    repository: MongoRequestRepository, sort: SortField, index: str
) -> None:
    for account in ("acc-1001", "acc-1002", "acc-1003"):
        await apply(
            repository, [e for i in range(5) for e in request(account, timedelta(minutes=i))]
        )
    first = ListQuery("acc-1001", sort=sort, limit=2)
    page = await repository.list_page(first)
    assert page.last_key is not None
    for query in (first, replace(first, after=page.last_key), replace(first, order=Order.ASC)):
        explained = await repository.explain_list(query)
        stages = plan_stages(explained["queryPlanner"]["winningPlan"])
        names = [s["stage"] for s in stages]
        assert "COLLSCAN" not in names, names
        [scan] = [s for s in stages if s["stage"] == "IXSCAN"]
        assert scan["indexName"] == index
        assert list(scan["keyPattern"]) == ["account_id", f"{sort.value}_key"]
        if explained.get("serverInfo", {}).get("host") != "secantus":
            # mongod walks the index in sort order; SecantusDB reports a SORT stage
            # whenever the sort field is not the index's leading one.
            assert "SORT" not in names, names
        stats = explained.get("executionStats")
        if stats:  # only this account's index entries are read
            assert stats["totalDocsExamined"] <= 5


async def test_stats_aggregate_the_window_without_request_text(
    repository: MongoRequestRepository,
) -> None:
    seconds = timedelta(seconds=1)
    events: list[Envelope] = []
    for i in range(10):  # routed after 1..10 s, answered after 10..100 min; 3 re-routed
        events += request(
            f"acc-{2000 + i}",
            timedelta(hours=i),
            route_after=(i + 1) * seconds,
            team="cards" if i % 2 else "security",
            rerouted=i < 3,
            reply_after=timedelta(minutes=10 * (i + 1)),
            status=Status.SOLVED if i < 4 else None,
        )
    events += request("acc-2100", timedelta(hours=11))  # not routed yet
    events += request("acc-2101", -timedelta(days=30), route_after=seconds, team="cards")  # old
    await apply(repository, events)

    stats = await repository.stats(StatsWindow(T0, T0 + timedelta(days=1)))

    assert stats.requests == 11
    assert stats.routed == 10
    assert stats.rerouted == 3
    assert stats.reroute_rate == 0.3
    counts = {(c.team, c.status.value): c.count for c in stats.by_team_and_status}
    assert counts == {
        ("cards", "open"): 3,
        ("cards", "solved"): 2,
        ("security", "open"): 3,
        ("security", "solved"): 2,
        ("unrouted", "new"): 1,
    }
    assert stats.time_to_route.count == 10
    assert 5 <= (stats.time_to_route.median_seconds or 0) <= 6
    assert 9 <= (stats.time_to_route.p90_seconds or 0) <= 10
    assert stats.time_to_first_reply.count == 10
    assert 3000 <= (stats.time_to_first_reply.median_seconds or 0) <= 3600
    # the backlog is now, any age: the old request counts too
    assert {b.team: b.count for b in stats.backlog} == {"cards": 4, "security": 3, "unrouted": 1}
    assert "secret" not in stats.model_dump_json()

    empty = await repository.stats(StatsWindow(T0 - timedelta(days=3), T0 - timedelta(days=2)))
    assert (empty.requests, empty.reroute_rate, empty.time_to_route.median_seconds) == (
        0,
        None,
        None,
    )


def transferred(first: list[Envelope], to_team: str, after: timedelta) -> TicketTransferred:
    """The transfer of a routed request (first = its events), `after` the routing."""
    routed = next(e for e in first if isinstance(e, TicketRouted))
    submitted = next(e for e in first if isinstance(e, TicketSubmitted))
    return TicketTransferred(
        ticket_id=routed.ticket_id,
        account_id=routed.account_id,
        correlation_id="c",
        occurred_at=routed.occurred_at + after,
        transfer=Transfer(
            from_team=routed.team, to_team=to_team, reason="misrouted", agent_id="agent-1"
        ),
        request=RequestContent(
            category="c",
            subject=submitted.subject,
            description=submitted.description,
            submitted_at=submitted.occurred_at,
        ),
        decision=RoutingDecision.model_validate(
            routed.model_dump(include=set(RoutingDecision.model_fields))
        ),
        status=Status.OPEN,
        routed_at=routed.occurred_at,
    )


async def test_a_queue_is_urgent_first_then_oldest_and_follows_transfers(
    repository: MongoRequestRepository,
) -> None:
    service = HistoryService(repository, teams=("cards", "security"))
    minute = timedelta(minutes=1)
    old, new, moved_in = (
        request("acc-1", timedelta(0), route_after=minute, team="cards"),
        request("acc-2", timedelta(hours=1), route_after=minute, team="cards"),
        request("acc-3", timedelta(hours=2), route_after=minute, team="security"),
    )
    urgent = request("acc-4", timedelta(hours=3), route_after=minute, team="cards")
    urgent[1] = urgent[1].model_copy(update={"priority": Priority.URGENT})
    solved = request(
        "acc-5", timedelta(hours=4), route_after=minute, team="cards", status=Status.SOLVED
    )
    waiting = request(
        "acc-6", timedelta(hours=5), route_after=minute, team="cards", status=Status.PENDING
    )
    await apply(repository, [*old, *new, *moved_in, *urgent, *solved, *waiting])
    await apply(repository, [transferred(moved_in, "cards", timedelta(hours=1))])

    page = await service.team_queue("cards", QueueFilter(limit=3))
    ids = [v.ticket_id for v in page.items]
    assert ids == [urgent[0].ticket_id, old[0].ticket_id, new[0].ticket_id]
    rest = await service.team_queue("cards", QueueFilter(limit=3, cursor=page.next_cursor))
    assert [v.ticket_id for v in rest.items] == [moved_in[0].ticket_id]
    assert rest.next_cursor is None
    pending = await service.team_queue("cards", QueueFilter(statuses=[Status.PENDING]))
    assert [v.ticket_id for v in pending.items] == [waiting[0].ticket_id]
    security = await service.team_queue("security", QueueFilter())
    assert security.items == []  # it left the team

    for query in (
        QueueQuery("cards"),
        QueueQuery("cards", after="1|2026-11-01T09:00:00.000Z|AAAA-BBBB-CCCC"),
        QueueQuery("cards", assignee=UNASSIGNED),
        QueueQuery("cards", priority=Priority.URGENT),
    ):
        explained = await repository.explain_queue(query)
        stages = plan_stages(explained["queryPlanner"]["winningPlan"])
        names = [s["stage"] for s in stages]
        assert "COLLSCAN" not in names, names
        [scan] = [s for s in stages if s["stage"] == "IXSCAN"]
        assert scan["indexName"] in ("queue", "queue_assignee")


async def test_stats_count_transfers_and_the_time_misroutes_cost(
    repository: MongoRequestRepository,
) -> None:
    minute = timedelta(minutes=1)
    direct = request(
        "acc-1",
        timedelta(0),
        route_after=minute,
        team="cards",
        reply_after=2 * minute,
        status=Status.SOLVED,
    )
    misrouted = request(
        "acc-2",
        timedelta(0),
        route_after=minute,
        team="security",
        reply_after=90 * minute,
        status=Status.SOLVED,
    )
    await apply(repository, [*direct, *misrouted])
    await apply(repository, [transferred(misrouted, "cards", timedelta(hours=1))])
    stats = await repository.stats(StatsWindow.of(T0 - timedelta(days=1), T0 + timedelta(days=3)))
    moved = stats.transfers
    assert (moved.count, moved.requests, moved.share_of_routed) == (1, 1, 0.5)
    assert [(r.from_team, r.to_team, r.count) for r in moved.by_route] == [("security", "cards", 1)]
    assert [(r.reason, r.count) for r in moved.by_original_reason] == [("model", 1)]
    assert moved.time_lost.median_seconds == 3600
    assert moved.first_time_right_rate == 0.5
    assert moved.time_to_first_reply_transferred.count == 1
    assert moved.time_to_first_reply_not_transferred.count == 1
