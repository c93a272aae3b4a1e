"""HTTP API of the intake: customers' web forms and agents' tools post here.

Handlers stay thin: read and validate the request, call the use case, shape the answer. Every
error is problem+json; the mapping from use-case errors to statuses is at the bottom.
"""

from __future__ import annotations

from base64 import b64encode
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl
from uuid import uuid4

from fastapi import APIRouter, Depends, FastAPI, Header, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ValidationError
from pymongo.errors import ConnectionFailure
from starlette.requests import ClientDisconnect

from intake.adapters.multipart import (
    FieldTooLargeError,
    FormSpec,
    MalformedBodyError,
    UnexpectedFieldError,
    UploadedForm,
    read_form,
)
from intake.domain.activity import ClosedRequestError
from intake.domain.attachments import (
    ALLOWED_TYPES,
    AttachmentLimits,
    AttachmentRejectedError,
    content_disposition,
)
from intake.domain.idempotency import IDEMPOTENCY_KEY_PATTERN
from intake.domain.submission import SubmissionForm
from intake.idempotency import IdempotencyKeyReusedError, RequestInProgressError
from intake.schemas import (
    DOCUMENTS_BODY,
    SUBMISSION_BODY,
    ActivityAccepted,
    CategoryOut,
    CommentRequest,
    InformationRequest,
    ReplyRequest,
    StatusRequest,
    TicketAccepted,
    TicketRequest,
    example,
    problems,
)
from intake.service import (
    AttachmentNotFoundError,
    ConcurrentUpdateError,
    IntakeService,
    InvalidSubmissionError,
    PublishFailedError,
    RateLimitedError,
    TicketNotFoundError,
)
from shared.contracts.identity import Principal, Role
from shared.contracts.statuses import IllegalTransitionError
from shared.http.auth import require_roles
from shared.http.problems import InvalidParam, ProblemError, problem_response
from shared.kafka.records import TransientError

router = APIRouter(prefix="/v1", tags=["tickets"])

CustomerPrincipal = Annotated[Principal, Depends(require_roles(Role.CUSTOMER))]
AgentPrincipal = Annotated[Principal, Depends(require_roles(Role.AGENT))]
AnyPrincipal = Annotated[Principal, Depends(require_roles(*Role))]
CorrelationId = Annotated[
    str | None,
    Header(
        max_length=128,
        pattern=r"^[\w.:-]+$",
        description="Ties this request to its events and logs; generated when absent",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN.pattern,
        description=(
            "Send the same key when retrying: the first answer is repeated (same status, same"
            " body, same ticket), for a day. Without a key an identical submission within a"
            " few minutes (10 by default) is recognised all the same."
        ),
        examples=["5f0c2d1e-8a8b-4f57-9d51-3c2b7f1c9a40"],
    ),
]

# --- dependencies ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadRules:
    limits: AttachmentLimits
    max_form_field_bytes: int

    def spec(self, *text_fields: str) -> FormSpec:
        return FormSpec(
            text_fields=frozenset(text_fields),
            file_field="attachments",
            limits=self.limits,
            max_field_bytes=self.max_form_field_bytes,
            max_parts=self.limits.max_count + 2 * len(text_fields) + 16,
        )


def get_service(request: Request) -> IntakeService:
    service: IntakeService = request.app.state.intake_service
    return service


def get_upload_rules(request: Request) -> UploadRules:
    rules: UploadRules = request.app.state.upload_rules
    return rules


Service = Annotated[IntakeService, Depends(get_service)]
Uploads = Annotated[UploadRules, Depends(get_upload_rules)]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_multipart(request: Request, spec: FormSpec) -> UploadedForm:
    return await read_form(request.stream(), request.headers["content-type"], spec)


def _body_problem(exc: ValidationError) -> ProblemError:
    params = [
        InvalidParam(name=".".join(["body", *(str(p) for p in err["loc"])]), reason=str(err["msg"]))
        for err in exc.errors()
    ]
    return ProblemError(
        422,
        "Validation failed",
        "; ".join(f"{p.name}: {p.reason}" for p in params),
        invalid_params=params,
    )


async def _read_submission(
    request: Request, rules: UploadRules
) -> tuple[SubmissionForm, UploadedForm]:
    media = _media_type(request)
    if media == "multipart/form-data":
        upload = await _read_multipart(
            request, rules.spec("category", "subject", "description", "locale")
        )
        return _form_of(upload.fields), upload
    if media == "application/x-www-form-urlencoded":  # a browser form without file inputs
        return _form_of(_urlencoded(await request.body())), UploadedForm()
    if media in ("", "application/json") or media.endswith("+json"):
        try:
            body = TicketRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise _body_problem(exc) from exc
        form = SubmissionForm(
            category=body.category,
            subject=body.subject,
            description=body.description,
            locale=body.locale,
        )
        return form, UploadedForm()
    raise ProblemError(
        415,
        "Unsupported media type",
        "send application/json or a form (multipart/form-data to attach files)",
        invalid_params=[InvalidParam(name="header.Content-Type", reason=f"{media} not accepted")],
    )


def _form_of(fields: dict[str, str]) -> SubmissionForm:
    # A missing field is an empty one: the domain's check names it like any other mistake.
    return SubmissionForm(
        category=fields.get("category", ""),
        subject=fields.get("subject", ""),
        description=fields.get("description", ""),
        locale=fields.get("locale", "en"),
    )


def _urlencoded(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise ProblemError(400, "Bad request", "the form is not valid UTF-8") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise UnexpectedFieldError(f"body.{name}", "given more than once")
        fields[name] = value
    return fields


def _accepted(model: BaseModel, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=202, headers=headers)


# --- endpoints ------------------------------------------------------------------------------


@router.get(
    "/categories",
    summary="The drop-down categories a customer can pick",
    responses=problems(401),
)
async def list_categories(_: AnyPrincipal, service: Service) -> list[CategoryOut]:
    return [
        CategoryOut(id=c.id, label=c.label, requires_id_documents=c.requires_id_documents)
        for c in service.catalog.categories
    ]


@router.post(
    "/tickets",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TicketAccepted,
    summary="Submit a request (signed-in customer), with attachments if multipart",
    description=(
        "JSON, or multipart/form-data as a browser form posts it (files in the repeated field"
        " `attachments`). Accepted (202) once Kafka acknowledged the request. A retry with the"
        " same `Idempotency-Key`, or an identical submission within minutes, is answered with"
        " the first request's answer (header `Idempotent-Replayed: true`)."
    ),
    responses=problems(
        400,
        401,
        403,
        409,
        413,
        415,
        422,
        429,
        503,
        examples={
            409: example(
                409,
                "Request in progress",
                "a request with this idempotency key is still being processed",
            )
        },
    ),
    openapi_extra=SUBMISSION_BODY,
)
async def submit_ticket(
    request: Request,
    principal: CustomerPrincipal,
    service: Service,
    rules: Uploads,
    idempotency_key: IdempotencyKey = None,
    x_correlation_id: CorrelationId = None,
) -> JSONResponse:
    form, upload = await _read_submission(request, rules)
    try:
        result = await service.submit(
            form,
            account_id=principal.account_id,
            correlation_id=x_correlation_id or str(uuid4()),
            files=upload.files,
            idempotency_key=idempotency_key,
        )
    finally:
        upload.close()
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return _accepted(TicketAccepted.of(result.receipt), headers)


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
    ticket_id: str, attachment_id: str, principal: AnyPrincipal, service: Service
) -> StreamingResponse:
    stored = await service.open_attachment(
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
    service: Service,
    x_correlation_id: CorrelationId = None,
) -> JSONResponse:
    receipt = await service.comment(
        ticket_id,
        body.body,
        account_id=principal.account_id,
        correlation_id=x_correlation_id or str(uuid4()),
    )
    return _accepted(ActivityAccepted.of(receipt))


@router.post(
    "/tickets/{ticket_id}/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivityAccepted,
    summary="Upload requested documents to one's own request (multipart, field `attachments`)",
    responses=problems(400, 401, 403, 404, 409, 413, 415, 422, 503),
    openapi_extra=DOCUMENTS_BODY,
)
async def upload_documents(
    ticket_id: str,
    request: Request,
    principal: CustomerPrincipal,
    service: Service,
    rules: Uploads,
    x_correlation_id: CorrelationId = None,
) -> JSONResponse:
    if _media_type(request) != "multipart/form-data":
        raise ProblemError(
            415,
            "Unsupported media type",
            "send the documents as multipart/form-data in the field attachments",
            invalid_params=[InvalidParam(name="header.Content-Type", reason="multipart only")],
        )
    upload = await _read_multipart(request, rules.spec())
    try:
        receipt = await service.upload_documents(
            ticket_id,
            upload.files,
            account_id=principal.account_id,
            correlation_id=x_correlation_id or str(uuid4()),
        )
    finally:
        upload.close()
    return _accepted(ActivityAccepted.of(receipt))


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
    service: Service,
    x_correlation_id: CorrelationId = None,
) -> JSONResponse:
    receipt = await service.reply(
        ticket_id,
        body.body,
        body.status,
        agent_id=principal.account_id,
        correlation_id=x_correlation_id or str(uuid4()),
    )
    return _accepted(ActivityAccepted.of(receipt))


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
    service: Service,
    x_correlation_id: CorrelationId = None,
) -> JSONResponse:
    receipt = await service.change_status(
        ticket_id,
        body.status,
        body.note,
        agent_id=principal.account_id,
        correlation_id=x_correlation_id or str(uuid4()),
    )
    return _accepted(ActivityAccepted.of(receipt))


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
    service: Service,
    x_correlation_id: CorrelationId = None,
) -> JSONResponse:
    receipt = await service.request_information(
        ticket_id,
        body.body,
        body.documents,
        agent_id=principal.account_id,
        correlation_id=x_correlation_id or str(uuid4()),
    )
    return _accepted(ActivityAccepted.of(receipt))


# --- use-case errors as problems ------------------------------------------------------------


def _field_name(field: str) -> str:
    return field if field.startswith("attachments") else f"body.{field}"


def _to_problem(exc: Exception) -> ProblemError:
    if isinstance(exc, InvalidSubmissionError):
        params = [InvalidParam(name=_field_name(e.field), reason=e.reason) for e in exc.errors]
        return ProblemError(422, "Validation failed", str(exc), invalid_params=params)
    if isinstance(exc, AttachmentRejectedError):
        param = [InvalidParam(name=f"attachments[{exc.index}]", reason=exc.reason)]
        if exc.kind == "type":
            return ProblemError(415, "Unsupported media type", str(exc), invalid_params=param)
        return ProblemError(413, "Content too large", str(exc), invalid_params=param)
    if isinstance(exc, FieldTooLargeError):
        param = [InvalidParam(name=exc.name, reason=exc.reason)]
        return ProblemError(413, "Content too large", str(exc), invalid_params=param)
    if isinstance(exc, UnexpectedFieldError):
        param = [InvalidParam(name=exc.name, reason=exc.reason)]
        return ProblemError(422, "Validation failed", str(exc), invalid_params=param)
    if isinstance(exc, MalformedBodyError):
        return ProblemError(400, "Bad request", str(exc))
    if isinstance(exc, ClientDisconnect):  # or cut off by the body limit, which answered
        return ProblemError(400, "Bad request", "the request body did not arrive whole")
    if isinstance(exc, RateLimitedError):
        return ProblemError(
            429,
            "Too many requests",
            str(exc),
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )
    if isinstance(exc, IdempotencyKeyReusedError):
        param = [InvalidParam(name="header.Idempotency-Key", reason=str(exc))]
        return ProblemError(422, "Idempotency key reused", str(exc), invalid_params=param)
    if isinstance(exc, RequestInProgressError):
        return ProblemError(
            409,
            "Request in progress",
            f"{exc}; retry",
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )
    if isinstance(exc, TicketNotFoundError | AttachmentNotFoundError):
        return ProblemError(404, "Not found", "no such request or attachment")
    if isinstance(exc, IllegalTransitionError | ClosedRequestError):
        return ProblemError(409, "Conflict", str(exc))
    if isinstance(exc, ConcurrentUpdateError):
        return ProblemError(409, "Conflict", str(exc), headers={"Retry-After": "1"})
    # Kafka or MongoDB unreachable: the infrastructure, not the request, so the client may
    # retry as is. Retry-After: a broker or database restart takes seconds.
    if isinstance(exc, PublishFailedError):
        detail = "the request could not be queued; nothing was kept; retry"
    else:
        detail = "the request could not be recorded; retry"
    return ProblemError(503, "Service unavailable", detail, headers={"Retry-After": "5"})


HANDLED_ERRORS: tuple[type[Exception], ...] = (
    InvalidSubmissionError,
    AttachmentRejectedError,
    FieldTooLargeError,
    UnexpectedFieldError,
    MalformedBodyError,
    RateLimitedError,
    IdempotencyKeyReusedError,
    RequestInProgressError,
    TicketNotFoundError,
    AttachmentNotFoundError,
    IllegalTransitionError,
    ClosedRequestError,
    ConcurrentUpdateError,
    PublishFailedError,
    ConnectionFailure,
    TransientError,
    ClientDisconnect,
)


def install_error_handlers(app: FastAPI) -> None:
    """Use-case errors become problem+json, the same shape as every other error."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = _to_problem(exc)
        problem = error.problem.model_copy(update={"instance": request.url.path})
        return problem_response(problem, headers=error.headers)

    for error in HANDLED_ERRORS:
        app.add_exception_handler(error, handle)
