"""JSON API: My activities (customers), request detail (owner or agent), stats (dashboards)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from history.access import DETAIL_ROLES, LIST_ROLES, STATS_ROLES
from history.domain.listing import MAX_SEARCH_LENGTH, Order, SortField
from history.domain.projection import RequestView, TimelineEntry
from history.domain.stats import Stats
from history.service import (
    ActivityFilter,
    HistoryService,
    InvalidQueryError,
    RequestNotFoundError,
)
from shared.contracts.events import TicketId
from shared.contracts.identity import Principal
from shared.contracts.statuses import Status
from shared.http.auth import require_roles
from shared.http.problems import InvalidParam, ProblemError, problem_responses

router = APIRouter(prefix="/v1")

Customer = Annotated[Principal, Depends(require_roles(*LIST_ROLES))]
OwnerOrAgent = Annotated[Principal, Depends(require_roles(*DETAIL_ROLES))]
Dashboard = Annotated[Principal, Depends(require_roles(*STATS_ROLES))]


def get_service(request: Request) -> HistoryService:
    service: HistoryService = request.app.state.history_service
    return service


Service = Annotated[HistoryService, Depends(get_service)]


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


def _bad_param(exc: InvalidQueryError) -> ProblemError:
    reason = str(exc)
    return ProblemError(
        422,
        "Validation failed",
        reason,
        invalid_params=[InvalidParam(name=exc.field, reason=reason)],
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
    service: Service,
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
    wanted = ActivityFilter(
        statuses=status or (),
        public_statuses=public_status or (),
        search=q,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    try:
        # The account comes from the token: a customer lists only their own requests.
        page = await service.list_activities(principal.account_id, wanted)
    except InvalidQueryError as exc:
        raise _bad_param(exc) from exc
    return ActivityList(
        items=[ActivityItem.of(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/tickets/{ticket_id}",
    tags=["my activities"],
    summary="One request with its timeline (its owner or an agent)",
    responses=problem_responses(401, 403, 404, 422),
)
async def request_detail(
    ticket_id: TicketId, principal: OwnerOrAgent, service: Service
) -> RequestDetail:
    try:
        view = await service.request_for(principal, ticket_id)
    except RequestNotFoundError as exc:
        raise ProblemError(404, "Not found", f"no request {ticket_id} for this account") from exc
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
    service: Service,
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Inclusive, ISO 8601; default: `to` minus 7 days"),
    ] = None,
    to: Annotated[
        datetime | None, Query(description="Exclusive, ISO 8601; default: now (UTC)")
    ] = None,
) -> Stats:
    try:
        return await service.stats(from_, to)
    except InvalidQueryError as exc:
        raise _bad_param(exc) from exc
