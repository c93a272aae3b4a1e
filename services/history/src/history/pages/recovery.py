"""Locked out by 2FA: the pages of account recovery, for someone who cannot sign in. Ask for
a link (the same answer for every address), then, from the link in the e-mail, file the one
2FA request it allows, with ID photos. The intake decides everything; these pages show it."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from history.pages.activities import MAX_FILES, client_address, intake
from history.pages.forms import BadFormError, errors_from, page_form, page_status
from history.pages.rendering import gettext_for, page_locale, problem_page, render
from history.pages.session import CSRF_FIELD, Visitor, Who, genuine_post
from history.pages.signin import refused
from history.ports import IntakeUnavailableError

ASK = "/account-recovery"
RECOVERY_CATEGORY = "disable-2fa"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}\.[0-9a-f]{32}$")

router = APIRouter(include_in_schema=False)


def _anonymous(who: Visitor) -> Visitor:
    # These pages act for nobody signed in: a session cookie plays no part in them.
    return Visitor(None, False, csrf_seed=who.csrf_seed, new_seed=who.new_seed)


@router.get(ASK, response_class=HTMLResponse)
async def ask_page(request: Request, who: Who) -> HTMLResponse:
    return render(
        request, "recovery_ask.html", {"form": {}, "errors": {}, "sent": None}, who=_anonymous(who)
    )


@router.post(ASK, response_model=None)
async def ask(request: Request, who: Who) -> Response:
    _ = gettext_for(request)
    visitor = _anonymous(who)
    try:
        async with page_form(request, max_files=0) as form:
            fields = form.fields
    except BadFormError:
        return problem_page(
            request, visitor, 400, _("Bad request"), _("The form could not be read.")
        )
    if not genuine_post(request, visitor, fields.get(CSRF_FIELD, "")):
        return refused(request, visitor)
    email = fields.get("email", "").strip()
    context: dict[str, object] = {"form": {"email": email}, "errors": {}, "sent": None}
    try:
        answer = await intake(request).post_json(
            "/v1/account-recovery",
            {"email": email, "locale": page_locale(request)},
            client=client_address(request),
        )
    except IntakeUnavailableError:
        context["errors"] = {
            "form": _("We could not send a link just now. Please try again in a minute.")
        }
        return render(request, "recovery_ask.html", context, who=visitor, status_code=503)
    if answer.ok:
        context["sent"] = _(
            "If an account uses this address, we have sent a link to it. The link works once,"
            " for a short time. Check your inbox, and your spam folder."
        )
        return render(request, "recovery_ask.html", context, who=visitor, status_code=202)
    errors = errors_from(answer, _)
    if "email" in errors or answer.status == 422:
        errors = {"email": _("Please give a valid e-mail address.")}
    context["errors"] = errors
    return render(request, "recovery_ask.html", context, who=visitor, status_code=answer.status)


async def _link_page(
    request: Request,
    visitor: Visitor,
    token: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    _ = gettext_for(request)
    catalog = request.app.state.catalog
    category = catalog.category(RECOVERY_CATEGORY)
    documents = catalog.documents_of(category.documents) if category else ()
    message, expires_at = None, None
    if not _TOKEN.fullmatch(token):
        state = "invalid"
    else:
        try:
            answer = await intake(request).post_json("/v1/account-recovery/link", {"token": token})
        except IntakeUnavailableError:
            return problem_page(
                request,
                visitor,
                503,
                _("Not available"),
                _("Please open the link again in a minute."),
            )
        state = answer.body.get("state", "invalid") if isinstance(answer.body, dict) else "invalid"
        if state == "valid":
            expires_at = datetime.fromisoformat(answer.body["expires_at"])
    if state != "valid":
        message = {
            "used": _("This link was used already: it files one request only."),
            "expired": _("This link has expired."),
        }.get(state, _("This link is not valid."))
        status_code = 410 if state in ("used", "expired") else 404
    return render(
        request,
        "recovery_request.html",
        {
            "token": token,
            "documents": documents,
            "expires_at": expires_at,
            "message": message,
            "form": form or {},
            "errors": errors or {},
        },
        who=visitor,
        status_code=status_code,
    )


@router.get(f"{ASK}/{{token}}", response_class=HTMLResponse)
async def link_page(request: Request, token: str, who: Who) -> HTMLResponse:
    return await _link_page(request, _anonymous(who), token)


@router.post(f"{ASK}/{{token}}", response_model=None)
async def file_request(request: Request, token: str, who: Who) -> Response:
    _ = gettext_for(request)
    visitor = _anonymous(who)
    shown: dict[str, str] = {}
    try:
        async with page_form(request, max_files=MAX_FILES) as form:
            if not genuine_post(request, visitor, form.get(CSRF_FIELD)):
                return refused(request, visitor)
            fields = {name: form.get(name) for name in ("subject", "description")}
            fields["locale"] = form.get("locale") or page_locale(request)
            shown = fields
            answer = await intake(request).post_form(
                "/v1/account-recovery/request",
                fields | {"token": token},
                form.files,
                client=client_address(request),
            )
    except BadFormError:
        return problem_page(
            request, visitor, 400, _("Bad request"), _("The form could not be read.")
        )
    except IntakeUnavailableError:
        return await _link_page(
            request,
            visitor,
            token,
            form=shown,
            errors={
                "form": _("We could not send your request just now. Please try again in a minute.")
            },
            status_code=503,
        )
    if answer.ok and isinstance(answer.body, dict):
        return render(
            request,
            "received.html",
            {
                "ticket_id": answer.body["ticket_id"],
                "message": _(
                    "We received your request to disable 2FA. We answer at your account's e-mail"
                    " address. The link cannot be used again."
                ),
            },
            who=visitor,
            status_code=202,
        )
    if answer.status in (404, 410):
        return await _link_page(request, visitor, token)
    errors = errors_from(answer, _)
    if "attachments" in errors:
        errors["attachments"] += " " + _("Please choose the files again.")
    return await _link_page(
        request,
        visitor,
        token,
        form=shown,
        errors=errors,
        status_code=page_status(answer),
    )
