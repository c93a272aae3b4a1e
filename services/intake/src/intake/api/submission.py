"""Routes of a new request: the categories to pick from, and submitting (signed-in customer)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from intake.api.dependencies import (
    AnyPrincipal,
    CorrelationId,
    CustomerPrincipal,
    IdempotencyKey,
    UseCases,
)
from intake.api.forms import read_submission
from intake.api.openapi import SUBMISSION_BODY, example, problems
from intake.api.schemas import (
    CategoryOut,
    SuggestionOut,
    SuggestionRequest,
    TicketAccepted,
    accepted,
)
from shared.i18n import negotiate, normalise_locale

router = APIRouter(prefix="/v1", tags=["tickets"])


@router.get(
    "/categories",
    summary="The drop-down categories a customer can pick",
    responses=problems(401),
)
async def list_categories(request: Request, _: AnyPrincipal, intake: UseCases) -> list[CategoryOut]:
    catalog = intake.submissions.catalog
    locale = negotiate(request.headers.get("accept-language"))
    return [CategoryOut.of(c, catalog, locale) for c in catalog.categories]


@router.post(
    "/tickets/suggestions",
    response_model=SuggestionOut,
    summary="What the text suggests while the customer types: category, documents, guidance",
    description=(
        "For the Submit-a-request form (signed-in customer): the categories the text is most"
        " likely about, the one to propose when it is likely enough, the documents the request"
        " will need (attach them now: nobody has to ask later) and the Help Centre's guidance."
        " When the classifier does not answer within a short timeout, `available` is false and"
        " everything is empty: submitting never depends on this."
    ),
    responses=problems(401, 403, 422, 429),
)
async def suggest(
    request: Request, body: SuggestionRequest, principal: CustomerPrincipal, intake: UseCases
) -> SuggestionOut:
    suggestion = await intake.suggestions.suggest(
        account_id=principal.account_id,
        subject=body.subject,
        description=body.description,
        category=body.category,
    )
    locale = normalise_locale(body.locale) if body.locale else None
    return SuggestionOut.of(suggestion, locale or negotiate(request.headers.get("accept-language")))


@router.post(
    "/tickets",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TicketAccepted,
    summary="Submit a request (signed-in customer), with attachments if multipart",
    description=(
        "JSON, or multipart/form-data as a browser form posts it (files in the repeated field"
        " `attachments`). Accepted (202) once Kafka acknowledged the request. A retry with the"
        " same `Idempotency-Key`, or an identical submission within minutes, is answered with"
        " the first request's answer (header `Idempotent-Replayed: true`). A 503 means the"
        " request is recorded but Kafka did not confirm it in time: it will be delivered, and a"
        " retry with the same key returns the same request, never a second one."
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
    intake: UseCases,
    correlation_id: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    form, upload = await read_submission(request, intake.upload_rules)
    try:
        result = await intake.submissions.submit(
            form,
            account_id=principal.account_id,
            correlation_id=correlation_id,
            files=upload.files,
            idempotency_key=idempotency_key,
        )
    finally:
        upload.close()
    return accepted(TicketAccepted.of(result.receipt), replayed=result.replayed)
