"""Routes of agents' tools: reply to the customer, change the status, ask for information."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from intake.api.dependencies import AgentPrincipal, CorrelationId, IdempotencyKey, UseCases
from intake.api.schemas import (
    ActivityAccepted,
    InformationRequest,
    ReplyRequest,
    StatusRequest,
    accepted,
    problems,
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
