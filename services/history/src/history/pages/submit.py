"""Submit a request: the form of the seeds' steps (category, subject, description, photos),
and the suggestions a small script of ours asks for as the customer types. Without script the
form works the same, minus suggestions; the submission goes to the intake as the customer."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from history.access import LIST_ROLES
from history.pages.activities import MAX_FILES, client_address, intake
from history.pages.forms import BadFormError, errors_from, page_form, page_status
from history.pages.rendering import gettext_for, page_locale, problem_page, render
from history.pages.session import CSRF_FIELD, CSRF_HEADER, Visitor, Who, genuine_post
from history.pages.signin import refused, sign_in_page
from history.ports import IntakeUnavailableError
from shared.contracts.catalog import Catalog

NEW = "/requests/new"
SUGGESTION_FIELDS = ("subject", "description", "category")

router = APIRouter(include_in_schema=False)


def _categories(catalog: Catalog) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "label": c.label, "documents": catalog.documents_of(c.documents)}
        for c in catalog.categories
    ]


def _form_page(
    request: Request,
    who: Visitor,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    form = form or {}
    return render(
        request,
        "new_request.html",
        {
            "categories": _categories(request.app.state.catalog),
            "form": form,
            "errors": errors or {},
            # One key per page shown: a double click, or a retry of the same page, is one
            # request; a page shown again after a refusal gets the same key back.
            "idempotency_key": form.get("idempotency_key") or str(uuid4()),
        },
        who=who,
        status_code=status_code,
        scripted=True,
    )


def _customer(request: Request, who: Visitor) -> HTMLResponse | None:
    """The page for anyone but a signed-in customer."""
    if who.principal is None:
        return sign_in_page(request, who)
    if who.principal.role not in LIST_ROLES:
        _ = gettext_for(request)
        return problem_page(
            request, who, 403, _("Not available"), _("Requests are submitted by customers.")
        )
    return None


@router.get(NEW, response_class=HTMLResponse)
async def new_request_page(request: Request, who: Who) -> HTMLResponse:
    return _customer(request, who) or _form_page(request, who)


@router.post(NEW, response_model=None)
async def submit(request: Request, who: Who) -> Response:
    _ = gettext_for(request)
    shown: dict[str, str] = {}  # what the form is shown again with, if it must be
    try:
        async with page_form(request, max_files=MAX_FILES) as form:
            if not genuine_post(request, who, form.get(CSRF_FIELD)):
                return refused(request, who)
            if (page := _customer(request, who)) is not None:
                return page
            fields = {name: form.get(name) for name in ("category", "subject", "description")}
            fields["locale"] = form.get("locale") or page_locale(request)
            shown = fields | {"idempotency_key": form.get("idempotency_key")}
            answer = await intake(request).post_form(
                "/v1/tickets",
                fields,
                form.files,
                token=who.token,
                idempotency_key=form.get("idempotency_key") or None,
                client=client_address(request),
            )
    except BadFormError:
        return problem_page(request, who, 400, _("Bad request"), _("The form could not be read."))
    except IntakeUnavailableError:
        return _form_page(
            request,
            who,
            form=shown,
            errors={
                "form": _(
                    "We could not send your request just now. Please try again in a minute:"
                    " it is not sent twice."
                )
            },
            status_code=503,
        )
    if answer.ok and isinstance(answer.body, dict):
        return RedirectResponse(f"/my-activities/{answer.body['ticket_id']}?new=1", status_code=303)
    if answer.status == 401:
        return sign_in_page(request, Visitor(None, True, csrf_seed=who.csrf_seed))
    errors = errors_from(answer, _)
    if "attachments" in errors:
        errors["attachments"] += " " + _("Please choose the files again.")
    return _form_page(
        request,
        who,
        form=shown,
        errors=errors,
        status_code=page_status(answer),
    )


@router.post(f"{NEW}/suggestions", response_model=None)
async def suggestions(request: Request, who: Who) -> Response:
    """For our script: the intake's suggestion for what the customer typed so far. Always an
    answer the script can show (an empty one when anything is wrong): the form never waits."""
    empty: dict[str, Any] = {
        "available": False,
        "suggested_category": None,
        "categories": [],
        "documents": [],
        "guidance": [],
    }
    if not genuine_post(request, who, request.headers.get(CSRF_HEADER, "")):
        return JSONResponse({"detail": "refused"}, status_code=403)
    if who.principal is None or who.principal.role not in LIST_ROLES:
        return JSONResponse({"detail": "sign in"}, status_code=401)
    try:
        asked = await request.json()
    except ValueError:
        return JSONResponse(empty, status_code=400)
    if not isinstance(asked, dict):
        return JSONResponse(empty, status_code=400)
    body = {name: str(asked.get(name) or "")[:20_000] for name in SUGGESTION_FIELDS}
    try:
        answer = await intake(request).post_json(
            "/v1/tickets/suggestions",
            body | {"locale": page_locale(request)},
            token=who.token,
        )
    except IntakeUnavailableError:
        return JSONResponse(empty)
    if not answer.ok:
        return JSONResponse(
            empty, status_code=answer.status if answer.status in (401, 429) else 200
        )
    return JSONResponse(answer.body, headers={"Cache-Control": "no-store"})
