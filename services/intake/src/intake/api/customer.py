"""Routes of a customer's own request: comment, upload requested documents, download a file
(the owner, or an agent)."""

from __future__ import annotations

from base64 import b64encode

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, StreamingResponse

from intake.api.dependencies import (
    AnyPrincipal,
    CorrelationId,
    CustomerPrincipal,
    IdempotencyKey,
    UseCases,
)
from intake.api.forms import media_type, read_multipart
from intake.api.openapi import DOCUMENTS_BODY, example, problems
from intake.api.schemas import ActivityAccepted, CommentRequest, accepted
from intake.domain.attachments import ALLOWED_TYPES, content_disposition
from shared.http.problems import InvalidParam, ProblemError

router = APIRouter(prefix="/v1", tags=["tickets"])


@router.get(
    "/tickets/{ticket_id}/attachments/{attachment_id}",
    summary="Download an attachment (the request's owner, or an agent)",
    description=(
        "Served with the type judged from its bytes, as a download (`Content-Disposition:"
        " attachment`, `X-Content-Type-Options: nosniff`). Anyone but the owner and agents"
        " gets 404, as if it did not exist."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in ALLOWED_TYPES
            },
        },
        **problems(401, 404, 422),
    },
)
async def download_attachment(
    ticket_id: str, attachment_id: str, principal: AnyPrincipal, intake: UseCases
) -> StreamingResponse:
    stored = await intake.attachments.open(
        ticket_id, attachment_id, reader_id=principal.account_id, role=principal.role.value
    )
    ref = stored.ref
    return StreamingResponse(
        stored.chunks,
        media_type=ref.content_type,
        headers={
            "Content-Disposition": content_disposition(ref.filename),
            "Content-Length": str(ref.size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
            "Repr-Digest": f"sha-256=:{b64encode(bytes.fromhex(ref.sha256)).decode()}:",
        },
    )


@router.post(
    "/tickets/{ticket_id}/comments",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Comment on one's own request (re-opens a pending or solved request)",
    responses=problems(
        401,
        403,
        404,
        409,
        422,
        429,
        503,
        examples={
            409: example(
                409,
                "Conflict",
                "cannot change status from closed to open:"
                " the request is closed; the customer must submit a new request",
            )
        },
    ),
)
async def add_comment(
    ticket_id: str,
    body: CommentRequest,
    principal: CustomerPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    receipt = await intake.customers.comment(
        ticket_id,
        body.body,
        account_id=principal.account_id,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
    )
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)


@router.post(
    "/tickets/{ticket_id}/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Upload requested documents to one's own request (multipart, field `attachments`)",
    responses=problems(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
    openapi_extra=DOCUMENTS_BODY,
)
async def upload_documents(
    ticket_id: str,
    request: Request,
    principal: CustomerPrincipal,
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    if media_type(request) != "multipart/form-data":
        raise ProblemError(
            415,
            "Unsupported media type",
            "send the documents as multipart/form-data in the field attachments",
            invalid_params=[InvalidParam(name="header.Content-Type", reason="multipart only")],
        )
    upload = await read_multipart(request, intake.upload_rules.spec())
    try:
        receipt = await intake.customers.upload_documents(
            ticket_id,
            upload.files,
            account_id=principal.account_id,
            correlation_id=correlation_id,
            idempotency_key=idempotency_key,
        )
    finally:
        upload.close()
    return accepted(ActivityAccepted.of(receipt), replayed=receipt.replayed)
