"""JSON API: My activities (customers), request detail (owner or agent), stats (dashboards)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from history.access import DETAIL_ROLES, LIST_ROLES, STATS_ROLES, may_read
from history.adapters.mongo import MongoRequestRepository
from history.domain.listing import (
    MAX_SEARCH_LENGTH,
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
from history.domain.projection import RequestView, TimelineEntry
from history.domain.stats import InvalidWindowError, Stats, StatsWindow
from shared.auth import Principal, require_roles
from shared.events import TicketId
from shared.problems import InvalidParam, ProblemError, problem_responses
from shared.statuses import Status

router = APIRouter(prefix="/v1")

Customer = Annotated[Principal, Depends(require_roles(*LIST_ROLES))]
OwnerOrAgent = Annotated[Principal, Depends(require_roles(*DETAIL_ROLES))]
Dashboard = Annotated[Principal, Depends(require_roles(*STATS_ROLES))]


def get_repository(request: Request) -> MongoRequestRepository:
    repository: MongoRequestRepository = request.app.state.repository
    return repository


Repository = Annotated[MongoRequestRepository, Depends(get_repository)]


class ActivityItem(BaseModel):
    ticket_id: str
    subject: str | None
    category: str | None
    team: str | None
    status: Status
    public_status: str
    priority: str
    created_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, view: RequestView) -> ActivityItem:
        return cls(
            ticket_id=view.ticket_id,
            subject=view.subject,
            category=view.category,
            team=view.team,
            status=view.status,
            public_status=view.public_status,
            priority=view.priority.value,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class ActivityList(BaseModel):
    items: list[ActivityItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same sort and order) for the next page; "
        "null on the last page"
    )


class RequestDetail(ActivityItem):
    first_reply_at: datetime | None
    rerouted_from: str | None
    required_documents_missing: bool
    timeline: list[TimelineEntry]


def _bad_param(name: str, reason: str) -> ProblemError:
    return ProblemError(
        422, "Validation failed", reason, invalid_params=[InvalidParam(name=name, reason=reason)]
    )


@router.get(
    "/accounts/me/activities",
    tags=["my activities"],
    summary="The signed-in customer's requests",
    description="Newest first by default. Filters combine; `q` matches the subject as a "
    "literal, case-insensitive substring. Pages follow `next_cursor`.",
    responses=problem_responses(401, 403, 422),
)
async def my_activities(
    principal: Customer,
    repository: Repository,
    status: Annotated[
        list[Status] | None, Query(description="Internal status; repeat for several")
    ] = None,
    public_status: Annotated[
        list[str] | None,
        Query(max_length=40, description='Public name, e.g. "Awaiting your reply"'),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=MAX_SEARCH_LENGTH, description="Search the subject")
    ] = None,
    sort: SortField = SortField.CREATED,
    order: Order = Order.DESC,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ActivityList:
    try:
        statuses = statuses_for(status or (), public_status or ())
    except UnknownStatusError as exc:
        raise _bad_param("query.public_status", str(exc)) from exc
    try:
        after = decode_cursor(cursor, sort, order) if cursor else None
    except InvalidCursorError as exc:
        raise _bad_param("query.cursor", str(exc)) from exc
    query = ListQuery(
        account_id=principal.account_id,  # from the token: a customer lists only their own
        statuses=statuses,
        search=normalise_search(q),
        sort=sort,
        order=order,
        limit=limit,
        after=after,
    )
    page = await repository.list_page(query)
    return ActivityList(
        items=[ActivityItem.of(v) for v in page.items],
        next_cursor=encode_cursor(sort, order, page.last_key) if page.last_key else None,
    )


@router.get(
    "/tickets/{ticket_id}",
    tags=["my activities"],
    summary="One request with its timeline (its owner or an agent)",
    responses=problem_responses(401, 403, 404, 422),
)
async def request_detail(
    ticket_id: TicketId, principal: OwnerOrAgent, repository: Repository
) -> RequestDetail:
    view = await repository.get(ticket_id)
    if view is None or not may_read(principal, view):
        raise ProblemError(404, "Not found", f"no request {ticket_id} for this account")
    return RequestDetail(
        **ActivityItem.of(view).model_dump(),
        first_reply_at=view.first_reply_at,
        rerouted_from=view.rerouted_from,
        required_documents_missing=view.required_documents_missing,
        timeline=list(view.timeline),
    )


@router.get(
    "/stats",
    tags=["dashboards"],
    summary="Aggregates over the requests created in a window (dashboards)",
    description="Counts by team and status, reroute rate, median and p90 time to route and "
    "to first reply, and the current backlog per team. Never any request text.",
    responses=problem_responses(401, 403, 422),
)
async def stats(
    _: Dashboard,
    repository: Repository,
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Inclusive, ISO 8601; default: `to` minus 7 days"),
    ] = None,
    to: Annotated[
        datetime | None, Query(description="Exclusive, ISO 8601; default: now (UTC)")
    ] = None,
) -> Stats:
    try:
        window = StatsWindow.of(from_, to)
    except InvalidWindowError as exc:
        raise _bad_param("query.from", str(exc)) from exc
    return await repository.stats(window)
