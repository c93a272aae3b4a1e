"""HTTP API of the intake: customers' web forms and agents' tools post here."""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Depends, Header, Request, status
from pydantic import BaseModel, Field

from intake.domain.submission import SubmissionForm
from intake.service import IntakeService, InvalidSubmissionError, PublishFailedError
from shared.auth import Principal, Role, require_roles
from shared.events import TicketId
from shared.problems import InvalidParam, ProblemError, problem_responses

router = APIRouter(prefix="/v1", tags=["tickets"])

CustomerPrincipal = Annotated[Principal, Depends(require_roles(Role.CUSTOMER))]


class TicketRequest(BaseModel):
    category: str = Field(
        description="A drop-down value, see GET /v1/categories", examples=["withdrawals"]
    )
    subject: str = Field(max_length=1000, examples=["Withdrawal stuck"])
    description: str = Field(
        max_length=100_000, examples=["My BTC withdrawal has been pending for two days."]
    )
    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")


class TicketAccepted(BaseModel):
    ticket_id: TicketId
    status: str = "new"
    required_documents_missing: bool = False


class CategoryOut(BaseModel):
    id: str
    label: str
    requires_id_documents: bool


def get_service(request: Request) -> IntakeService:
    service: IntakeService = request.app.state.intake_service
    return service


@router.get(
    "/categories",
    summary="The drop-down categories a customer can pick",
    responses=problem_responses(401),
)
async def list_categories(
    _: Annotated[Principal, Depends(require_roles(*Role))],
    service: Annotated[IntakeService, Depends(get_service)],
) -> list[CategoryOut]:
    return [
        CategoryOut(id=c.id, label=c.label, requires_id_documents=c.requires_id_documents)
        for c in service.catalog.categories
    ]


@router.post(
    "/tickets",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a request (signed-in customer)",
    responses=problem_responses(401, 403, 422, 503),
)
async def submit_ticket(
    body: TicketRequest,
    principal: CustomerPrincipal,
    service: Annotated[IntakeService, Depends(get_service)],
    x_correlation_id: Annotated[str | None, Header(max_length=128, pattern=r"^[\w.:-]+$")] = None,
) -> TicketAccepted:
    form = SubmissionForm(
        category=body.category,
        subject=body.subject,
        description=body.description,
        locale=body.locale,
    )
    try:
        event = await service.submit(
            form, account_id=principal.account_id, correlation_id=x_correlation_id or str(uuid4())
        )
    except InvalidSubmissionError as exc:
        raise ProblemError(
            422,
            "Validation failed",
            str(exc),
            invalid_params=[
                InvalidParam(name=f"body.{e.field}", reason=e.reason) for e in exc.errors
            ],
        ) from exc
    except PublishFailedError as exc:
        raise ProblemError(
            503,
            "Service unavailable",
            "the request could not be queued; retry",
            headers={"Retry-After": "5"},
        ) from exc
    return TicketAccepted(
        ticket_id=event.ticket_id, required_documents_missing=event.required_documents_missing
    )
