"""My activities (customers) and request detail (owner or agent)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from history.adapters.mongo import MongoRequestRepository
from history.domain.projection import RequestView, TimelineEntry
from shared.auth import Principal, Role, require_roles
from shared.events import TicketId
from shared.problems import ProblemError, problem_responses
from shared.statuses import Status

router = APIRouter(prefix="/v1", tags=["my activities"])

Customer = Annotated[Principal, Depends(require_roles(Role.CUSTOMER))]
OwnerOrAgent = Annotated[Principal, Depends(require_roles(Role.CUSTOMER, Role.AGENT))]


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


class RequestDetail(ActivityItem):
    first_reply_at: datetime | None
    rerouted_from: str | None
    required_documents_missing: bool
    timeline: list[TimelineEntry]


@router.get(
    "/accounts/me/activities",
    summary="The signed-in customer's requests, newest first",
    responses=problem_responses(401, 403, 422),
)
async def my_activities(
    principal: Customer,
    repository: Repository,
    status: Annotated[list[Status] | None, Query(description="Filter by internal status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ActivityList:
    views = await repository.list_for_account(
        principal.account_id, statuses=status or (), limit=limit
    )
    return ActivityList(items=[ActivityItem.of(v) for v in views])


@router.get(
    "/tickets/{ticket_id}",
    summary="One request with its timeline (its owner or an agent)",
    responses=problem_responses(401, 403, 404, 422),
)
async def request_detail(
    ticket_id: TicketId, principal: OwnerOrAgent, repository: Repository
) -> RequestDetail:
    view = await repository.get(ticket_id)
    # Someone else's request reads as missing: no hint that it exists.
    if view is None or (
        principal.role is Role.CUSTOMER and view.account_id != principal.account_id
    ):
        raise ProblemError(404, "Not found", f"no request {ticket_id} for this account")
    return RequestDetail(
        **ActivityItem.of(view).model_dump(),
        first_reply_at=view.first_reply_at,
        rerouted_from=view.rerouted_from,
        required_documents_missing=view.required_documents_missing,
        timeline=list(view.timeline),
    )
