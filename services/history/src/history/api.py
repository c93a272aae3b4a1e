"""JSON API: My activities (customers), a request (its owner's view or the agents'), team
queues (agents), stats (dashboards). The answer models, one per audience, are in schemas.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from history.access import DETAIL_ROLES, LIST_ROLES, QUEUE_ROLES, STATS_ROLES
from history.domain.listing import MAX_SEARCH_LENGTH, Order, SortField
from history.domain.stats import Stats
from history.schemas import (
    ActivityItem,
    ActivityList,
    AgentRequest,
    CustomerRequest,
    QueueItem,
    QueuePage,
)
from history.service import (
    ActivityFilter,
    HistoryService,
    InvalidQueryError,
    QueueFilter,
    RequestNotFoundError,
    UnknownTeamError,
)
from shared.contracts.events import Priority, TicketId, utcnow
from shared.contracts.identity import Principal, Role
from shared.contracts.statuses import Status
from shared.http.auth import require_roles
from shared.http.problems import InvalidParam, ProblemError, problem_responses

router = APIRouter(prefix="/v1")

Customer = Annotated[Principal, Depends(require_roles(*LIST_ROLES))]
OwnerOrAgent = Annotated[Principal, Depends(require_roles(*DETAIL_ROLES))]
Dashboard = Annotated[Principal, Depends(require_roles(*STATS_ROLES))]
Agent = Annotated[Principal, Depends(require_roles(*QUEUE_ROLES))]


def get_service(request: Request) -> HistoryService:
    service: HistoryService = request.app.state.history_service
    return service


Service = Annotated[HistoryService, Depends(get_service)]


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
    tags=["my activities", "agents"],
    summary="One request: its owner's view, or the whole of it for an agent",
    description=(
        "Its owner reads the public conversation (`audience: customer`): their own words and"
        " documents, the public replies and statuses, never a team, priority, routing decision,"
        " note, assignee or e-mail record. An agent reads everything (`audience: agent`)."
        " Anyone else gets 404."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
async def request_detail(
    ticket_id: TicketId, principal: OwnerOrAgent, service: Service, request: Request
) -> AgentRequest | CustomerRequest:
    try:
        view = await service.request_for(principal, ticket_id)
    except RequestNotFoundError as exc:
        raise ProblemError(404, "Not found", f"no request {ticket_id} for this account") from exc
    intake_url = request.app.state.settings.intake_public_url
    if principal.role is Role.AGENT:
        return AgentRequest.of_view(view, intake_url, utcnow())
    return CustomerRequest.of_view(view, intake_url)


@router.get(
    "/teams/{team}/queue",
    tags=["agents"],
    summary="A team's queue: what needs work, urgent first, then oldest first (agents)",
    description=(
        "By default the new, open and on-hold requests; `status=pending` lists those waiting on"
        " the customer (apart: they are not the team's move). Filters combine: `priority`,"
        " `assignee` (an agent's own) or `unassigned=true`. Pages follow `next_cursor`. Any"
        " agent may read any team's queue (a triage agent reads them all)."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
async def team_queue(
    team: Annotated[str, Path(max_length=64)],
    _: Agent,
    service: Service,
    status: Annotated[list[Status] | None, Query(description="Repeat for several")] = None,
    priority: Priority | None = None,
    assignee: Annotated[
        str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    ] = None,
    unassigned: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> QueuePage:
    wanted = QueueFilter(
        statuses=status or (),
        priority=priority,
        assignee=assignee,
        unassigned=unassigned,
        limit=limit,
        cursor=cursor,
    )
    try:
        page = await service.team_queue(team, wanted)
    except UnknownTeamError as exc:
        raise ProblemError(404, "Not found", f"no team {team!r}") from exc
    except InvalidQueryError as exc:
        raise _bad_param(exc) from exc
    now = utcnow()
    return QueuePage(
        team=team, items=[QueueItem.of(v, now) for v in page.items], next_cursor=page.next_cursor
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
