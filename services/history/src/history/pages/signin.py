"""Signing in and out of the pages: the token in an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from history.access import DETAIL_ROLES, LIST_ROLES, STATS_ROLES
from history.pages.rendering import gettext_for, problem_page, render
from history.pages.session import (
    CSRF_FIELD,
    Visitor,
    Who,
    end_session,
    genuine_post,
    start_session,
)
from shared.tokens import InvalidTokenError, TokenVerifier

PAGE = "/my-activities"
DASHBOARD = "/dashboard"  # the support managers' page (the dashboard role's only one)
# Where signing in may lead back to: our own pages only, never another site.
NEXT = re.compile(
    r"^(/my-activities(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})?|/requests/new|/dashboard)$"
)

router = APIRouter(include_in_schema=False)


def sign_in_page(
    request: Request, who: Visitor, *, error: str | None = None, next_page: str | None = None
) -> HTMLResponse:
    """The form, leading back to `next_page` (default: the page asked for, if one of ours)."""
    _ = gettext_for(request)
    if error is None and who.principal is None and who.via_cookie:
        error = _("Your session has expired. Sign in again.")
    wanted = next_page or request.url.path
    return render(
        request,
        "sign_in.html",
        {"next": wanted if NEXT.fullmatch(wanted) else PAGE, "error": error},
        status_code=401,
        who=Visitor(None, who.via_cookie, csrf_seed=who.csrf_seed, new_seed=who.new_seed),
    )


def refused(request: Request, who: Visitor) -> HTMLResponse:
    """A post that did not come from our own page in this browser (CSRF), or a stale one."""
    _ = gettext_for(request)
    return problem_page(
        request,
        who,
        403,
        _("Refused"),
        _(
            "This form was not sent from this site's own page, or the page was too old."
            " Go back, reload the page and send it again."
        ),
    )


@router.post(f"{PAGE}/session", response_model=None)
async def sign_in(
    request: Request,
    who: Who,
    token: Annotated[str, Form(max_length=8192)],
    next_: Annotated[str, Form(alias="next", max_length=200)] = PAGE,
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
) -> Response:
    # The form was made for this visitor as they are now (signed in as someone else, even).
    if not genuine_post(request, who, csrf):
        return refused(request, who)
    anonymous = Visitor(None, False, csrf_seed=who.csrf_seed, new_seed=who.new_seed)
    _ = gettext_for(request)
    target = next_ if NEXT.fullmatch(next_) else PAGE
    again = partial(sign_in_page, request, anonymous, next_page=target)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = verifier.verify(token.strip())
    except InvalidTokenError:
        return again(error=_("That token is not valid or has expired."))
    # Each page admits its own roles: the dashboard its role only, the others theirs.
    if target == DASHBOARD and principal.role not in STATS_ROLES:
        return again(error=_("The dashboard is for support managers."))
    if target != DASHBOARD and principal.role not in (*LIST_ROLES, *DETAIL_ROLES):
        return again(error=_("These pages are for customers and support agents."))
    response = RedirectResponse(target, status_code=303)
    start_session(response, token.strip(), request.app.state.settings)
    return response


@router.post(f"{PAGE}/session/end", response_model=None)
async def sign_out(
    request: Request,
    who: Who,
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
) -> Response:
    if not genuine_post(request, who, csrf):
        return refused(request, who)
    response = RedirectResponse(PAGE, status_code=303)
    end_session(response, request.app.state.settings)
    return response
