"""Routes of account recovery (no sign-in: the customer cannot sign in, which is the point):
ask for a link, check a link, file the one 2FA request a link allows."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, status
from fastapi.responses import JSONResponse

from intake.api.dependencies import CorrelationId, UseCases
from intake.api.forms import read_browser_form
from intake.api.openapi import RECOVERY_REQUEST_BODY, problems
from intake.api.schemas import (
    RecoveryAsk,
    RecoveryAsked,
    RecoveryLinkCheck,
    RecoveryLinkOut,
    TicketAccepted,
    accepted,
)
from intake.domain.recovery import LinkState
from intake.domain.submission import SubmissionForm
from shared.http.problems import InvalidParam, ProblemError

router = APIRouter(prefix="/v1/account-recovery", tags=["account recovery"])


def _client(request: Request) -> str:
    # The address the server saw; behind a proxy, uvicorn's --forwarded-allow-ips makes it
    # the client's (only for the proxies named there).
    return request.client.host if request.client else "unknown"


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RecoveryAsked,
    summary="Locked out by 2FA: ask for a one-time link to the account's own address",
    description=(
        "No sign-in. The answer is the same whether or not an account uses the address, and"
        " comes before anything is looked up. For a verified customer address, the notifier"
        " mails a link that works once, for minutes, to file one request in the 2FA category"
        " with ID photos. Limited per address and per client (429 with Retry-After)."
    ),
    responses=problems(422, 429),
)
async def ask_for_link(
    request: Request,
    body: RecoveryAsk,
    background: BackgroundTasks,
    intake: UseCases,
    correlation_id: CorrelationId,
) -> RecoveryAsked:
    await intake.recovery.admit(body.email, _client(request))
    background.add_task(intake.recovery.send_link, body.email, body.locale, correlation_id)
    return RecoveryAsked()


@router.post(
    "/link",
    response_model=RecoveryLinkOut,
    summary="What a recovery link can still do: valid (with its expiry), used, expired, invalid",
    responses=problems(422),
)
async def check_link(body: RecoveryLinkCheck, intake: UseCases) -> RecoveryLinkOut:
    # POST, not GET: the token is a credential, and URLs end up in logs.
    state, grant = await intake.recovery.link(body.token)
    expires_at = grant.expires_at if grant is not None and state is LinkState.VALID else None
    return RecoveryLinkOut(state=state.value, expires_at=expires_at)


@router.post(
    "/request",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TicketAccepted,
    summary="File the one 2FA request a recovery link allows (multipart, with ID photos)",
    description=(
        "The link's token in the field `token`; no category (it is the 2FA one); at least one"
        " ID photo (image or PDF) in `attachments`. A used link answers 410, an"
        " expired one 410, a forged or unknown one 404; a mistake in the form (422) leaves"
        " the link usable."
    ),
    responses=problems(400, 404, 410, 413, 415, 422, 429, 503),
    openapi_extra=RECOVERY_REQUEST_BODY,
)
async def file_recovery_request(
    request: Request, intake: UseCases, correlation_id: CorrelationId
) -> JSONResponse:
    upload = await read_browser_form(
        request, intake.upload_rules, "token", "subject", "description", "locale"
    )
    if upload is None:
        raise ProblemError(
            415,
            "Unsupported media type",
            "send the request as multipart/form-data, the ID photos in the field attachments",
            invalid_params=[InvalidParam(name="header.Content-Type", reason="a form only")],
        )
    try:
        fields = upload.fields
        form = SubmissionForm(
            category="",
            subject=fields.get("subject", ""),
            description=fields.get("description", ""),
            locale=fields.get("locale", "en"),
        )
        result = await intake.recovery.file_request(
            fields.get("token", ""), form, files=upload.files, correlation_id=correlation_id
        )
    finally:
        upload.close()
    return accepted(TicketAccepted.of(result.receipt), replayed=result.replayed)
