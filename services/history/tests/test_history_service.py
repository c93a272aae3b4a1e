"""The history's use cases on an in-memory store: the fold with its optimistic retry, the
customer's list and request, the dashboard's window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from history.domain.listing import Order, SortField
from history.domain.projection import fold
from history.ports import VersionedWrite
from history.service import (
    ActivityFilter,
    HistoryService,
    InvalidQueryError,
    ProjectionConflictError,
    RequestNotFoundError,
)
from shared.contracts.identity import Principal, Role
from shared.contracts.statuses import Status

from .history_fakes import FakeRequestRepository
from .test_history_projection import T0, story

pytestmark = pytest.mark.unit

ALICE = Principal("acc-1001", Role.CUSTOMER)


async def test_a_batch_is_folded_into_one_write_per_round() -> None:
    repository = FakeRequestRepository()
    service = HistoryService(repository)
    events = story() + story()
    assert await service.apply_events(events) == len(events)
    assert repository.writes == 1  # both requests of the batch in one round trip
    assert await service.apply_events(events) == 0  # redelivered: nothing new
    assert repository.writes == 1  # ...and nothing written


async def test_a_write_that_lost_the_race_is_folded_again_on_a_fresh_read() -> None:
    repository = FakeRequestRepository()
    service = HistoryService(repository)
    events = story()
    ticket_id = events[0].ticket_id
    # Another replica folds the submission between our read and our write.
    theirs, _ = fold(None, events[:1])
    assert theirs is not None
    repository.between_load_and_write.append(
        VersionedWrite(theirs.model_copy(update={"version": 1}), 0)
    )
    assert await service.apply_events(events) == len(events) - 1  # theirs was already there
    view = repository.views[ticket_id]
    assert view.version == 2
    assert len(view.applied_event_ids) == len(events)
    assert view.status is Status.SOLVED


async def test_endless_conflicts_end_in_an_error_the_batch_is_redelivered_for() -> None:
    class AlwaysConflicting(FakeRequestRepository):
        async def write(self, writes: object) -> set[str]:
            return {w.view.ticket_id for w in writes}  # type: ignore[attr-defined]

    service = HistoryService(AlwaysConflicting(), max_conflict_rounds=3)
    with pytest.raises(ProjectionConflictError):
        await service.apply_events(story())


async def test_the_list_is_the_customers_own_and_pages_with_a_cursor() -> None:
    service = HistoryService(FakeRequestRepository())
    for n in range(3):
        await service.apply_events(story(subject=f"Withdrawal {n}"))
    await service.apply_events(story(account_id="acc-1002", subject="Not Alice's"))
    wanted = ActivityFilter(sort=SortField.CREATED, order=Order.DESC, limit=2)
    first = await service.list_activities("acc-1001", wanted)
    assert len(first.items) == 2
    assert first.next_cursor is not None
    rest = await service.list_activities(
        "acc-1001", ActivityFilter(limit=2, cursor=first.next_cursor)
    )
    subjects = [v.subject or "" for v in first.items + rest.items]
    assert sorted(subjects) == ["Withdrawal 0", "Withdrawal 1", "Withdrawal 2"]
    assert rest.next_cursor is None


async def test_bad_list_parameters_name_their_field() -> None:
    service = HistoryService(FakeRequestRepository())
    with pytest.raises(InvalidQueryError) as status:
        await service.list_activities("acc-1001", ActivityFilter(public_statuses=["Lost"]))
    assert status.value.field == "query.public_status"
    with pytest.raises(InvalidQueryError) as cursor:
        await service.list_activities("acc-1001", ActivityFilter(cursor="not-a-cursor"))
    assert cursor.value.field == "query.cursor"


async def test_a_request_reads_for_its_owner_and_agents_only() -> None:
    service = HistoryService(FakeRequestRepository())
    events = story()
    await service.apply_events(events)
    ticket_id = events[0].ticket_id
    assert (await service.request_for(ALICE, ticket_id)).ticket_id == ticket_id
    agent = await service.request_for(Principal("agent-1", Role.AGENT), ticket_id)
    assert agent.ticket_id == ticket_id
    for stranger in (
        Principal("acc-1002", Role.CUSTOMER),
        Principal("ops-1", Role.DASHBOARD),
    ):
        with pytest.raises(RequestNotFoundError):
            await service.request_for(stranger, ticket_id)
    with pytest.raises(RequestNotFoundError):
        await service.request_for(ALICE, "ZZZZ-ZZZZ-ZZZZ")


async def test_the_stats_window_is_checked_before_the_store_is_asked() -> None:
    service = HistoryService(FakeRequestRepository())
    await service.apply_events(story())
    stats = await service.stats(None, T0 + timedelta(days=1))
    assert stats.requests == 1
    for start, end in (
        (T0, T0),  # empty
        (T0, T0 + timedelta(days=400)),  # too long
        (None, datetime(1, 1, 3, tzinfo=UTC)),  # a default `from` before year 1
    ):
        with pytest.raises(InvalidQueryError):
            await service.stats(start, end)
