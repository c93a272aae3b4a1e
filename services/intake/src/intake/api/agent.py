"""Routes of agents' tools: reply to the customer, change the status, ask for information."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from intake.api.dependencies import AgentPrincipal, CorrelationId, IdempotencyKey, UseCases
from intake.api.openapi import example, problems
from intake.api.schemas import (
    ActivityAccepted,
    AssignmentRequest,
    InformationRequest,
    NoteRequest,
    ReplyRequest,
    StatusRequest,
    TransferRequest,
    accepted,
)

router = APIRouter(prefix="/v1", tags=["agents"])


@router.post(
    "/tickets/{ticket_id}/replies",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Reply to the customer (agent), optionally changing the status",
    responses=problems(401, 403, 404, 409, 422, 503),
)
async def agent_reply(
    ticket_id: str,
    body: ReplyRequest,
    principal: AgentPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.agents.reply(
        ticket_id,
        body.body,
        body.status,
        agent_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)


@router.post(
    "/tickets/{ticket_id}/status",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Change the status (agent); illegal transitions are refused with the reason",
    responses=problems(401, 403, 404, 409, 422, 503),
)
async def change_status(
    ticket_id: str,
    body: StatusRequest,
    principal: AgentPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.agents.change_status(
        ticket_id,
        body.status,
        body.note,
        agent_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)


@router.post(
    "/tickets/{ticket_id}/information-requests",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Ask the customer for information or documents (agent); the request becomes pending",
    responses=problems(401, 403, 404, 409, 422, 503),
)
async def request_information(
    ticket_id: str,
    body: InformationRequest,
    principal: AgentPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.agents.request_information(
        ticket_id,
        body.body,
        body.documents,
        agent_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)


@router.post(
    "/tickets/{ticket_id}/notes",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="An internal note (agent): agents read it, the customer never does, nobody is mailed",
    responses=problems(401, 403, 404, 422, 503),
)
async def add_note(
    ticket_id: str,
    body: NoteRequest,
    principal: AgentPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.agents.add_note(
        ticket_id,
        body.body,
        agent_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)


@router.post(
    "/tickets/{ticket_id}/transfers",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Move the request to another team, with the reason (agent; triage routes by hand)",
    description=(
        "The new team's topic receives the whole request with the reason, the old team's a"
        " withdrawal; the customer sees none of it. Any agent may move any request; its"
        " assignee is released. Refused: an unknown team (422), the team it is with (409), a"
        " closed request (409), a request the router has not placed yet (409, retry)."
    ),
    responses=problems(
        401,
        403,
        404,
        409,
        422,
        503,
        examples={
            409: example(409, "Conflict", "the request is with withdrawals-transfers already")
        },
    ),
)
async def transfer(
    ticket_id: str,
    body: TransferRequest,
    principal: AgentPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.agents.transfer(
        ticket_id,
        body.team,
        body.reason,
        agent_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)


@router.post(
    "/tickets/{ticket_id}/assignment",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Take the request (agent), or give it to another agent of its team",
    description=(
        "Without `assignee` the caller takes it. The assignee must be an agent of the team the"
        " request is with (the account directory says which): an agent of another team moves"
        " the request to their team instead (422 otherwise)."
    ),
    responses=problems(401, 403, 404, 409, 422, 503),
)
async def assign(
    ticket_id: str,
    principal: AgentPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    body: AssignmentRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.agents.assign(
        ticket_id,
        (body.assignee if body else None) or principal.account_id,
        agent_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)


@router.delete(
    "/tickets/{ticket_id}/assignment",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Release the request: nobody works on it (agent)",
    responses=problems(401, 403, 404, 409, 503),
)
async def release(
    ticket_id: str,
    principal: AgentPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.agents.assign(
        ticket_id,
        None,
        agent_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)
