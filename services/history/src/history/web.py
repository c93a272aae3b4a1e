"""The My-activities page: server-rendered HTML that works without JavaScript.

A browser cannot add an Authorization header to a link, so the page also accepts the same
bearer token from a cookie, set by a small sign-in form: HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it, which is the CSRF defence for everything
behind it), path-scoped to the page, Secure in production. The forms that set or clear it
also refuse cross-site posts, so no other site can sign a visitor into someone else's
account. The Authorization header keeps working, and wins when both are present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined

from history.access import DETAIL_ROLES, LIST_ROLES
from history.api import Service
from history.domain.listing import (
    MAX_SEARCH_LENGTH,
    Order,
    SortField,
    normalise_search,
    public_status_names,
)
from history.service import ActivityFilter, InvalidQueryError, RequestNotFoundError
from history.settings import HistorySettings
from shared.contracts.events import TICKET_ID_PATTERN
from shared.contracts.identity import Principal
from shared.tokens import InvalidTokenError, TokenVerifier

PAGE = "/my-activities"
SESSION_COOKIE = "helpdesk_session"
_TICKET_ID = re.compile(TICKET_ID_PATTERN)
_NEXT = re.compile(r"^/my-activities(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})?$")

# The page orders a customer can pick, as one select: (sort, order).
ORDERINGS: dict[str, tuple[str, SortField, Order]] = {
    "newest": ("Newest first", SortField.CREATED, Order.DESC),
    "oldest": ("Oldest first", SortField.CREATED, Order.ASC),
    "updated": ("Recently updated", SortField.UPDATED, Order.DESC),
}

# Personal data: never cached, never framed, no script at all, forms post only to us. The
# referrer stays on this site (request numbers are in our URLs); "no-referrer" would also make
# the browser send `Origin: null` with our own forms, which the sign-in check refuses.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix=PAGE, tags=["my activities page"], include_in_schema=False)


@cache
def templates() -> Jinja2Templates:
    environment = Environment(
        loader=PackageLoader("history", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    return Jinja2Templates(env=environment)


def _when(value: datetime | None, *, seconds: bool = False) -> str:
    if value is None:
        return "—"
    return value.strftime("%d %b %Y, %H:%M:%S UTC" if seconds else "%d %b %Y, %H:%M UTC")


@dataclass(frozen=True, slots=True)
class Visitor:
    principal: Principal | None
    via_cookie: bool


def visitor(request: Request) -> Visitor:
    """Who is asking: the Authorization header first, else the session cookie."""
    verifier: TokenVerifier = request.app.state.token_verifier
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    via_cookie = False
    token = credentials.strip() if scheme.lower() == "bearer" else ""
    if not token:
        token = request.cookies.get(SESSION_COOKIE, "")
        via_cookie = bool(token)
    if not token:
        return Visitor(None, via_cookie=False)
    try:
        return Visitor(verifier.verify(token), via_cookie)
    except InvalidTokenError:
        return Visitor(None, via_cookie)


Who = Annotated[Visitor, Depends(visitor)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    who: Visitor | None = None,
) -> HTMLResponse:
    page_context = {
        "signed_in": bool(who and who.principal),
        "via_cookie": bool(who and who.via_cookie),
    }
    response: HTMLResponse = templates().TemplateResponse(
        request, template, page_context | context, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    if status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def sign_in_page(request: Request, who: Visitor, *, error: str | None = None) -> HTMLResponse:
    if error is None and who.principal is None and who.via_cookie:
        error = "Your session has expired. Sign in again."
    return render(
        request,
        "sign_in.html",
        {"next": request.url.path if _NEXT.fullmatch(request.url.path) else PAGE, "error": error},
        status_code=401,
        who=Visitor(None, who.via_cookie),
    )


def _problem_page(
    request: Request, who: Visitor, status_code: int, title: str, message: str
) -> HTMLResponse:
    return render(
        request,
        "problem.html",
        {"title": title, "message": message},
        status_code=status_code,
        who=who,
    )


@router.get("", response_class=HTMLResponse)
async def activities_page(
    request: Request,
    who: Who,
    service: Service,
    status: Annotated[str, Query(max_length=40)] = "",
    q: Annotated[str, Query(max_length=MAX_SEARCH_LENGTH)] = "",
    sort: Annotated[str, Query(max_length=20)] = "newest",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    principal = who.principal
    if principal is None:
        return sign_in_page(request, who)
    if principal.role not in LIST_ROLES:
        return _problem_page(
            request, who, 403, "Not available", "My activities lists a customer's own requests."
        )
    form = {"status": status, "q": q, "sort": sort if sort in ORDERINGS else "newest"}
    _, sort_field, order = ORDERINGS[form["sort"]]
    wanted = ActivityFilter(
        public_statuses=[status] if status else [],
        search=q,
        sort=sort_field,
        order=order,
        limit=request.app.state.settings.page_size,
        cursor=cursor or None,
    )
    error = None
    try:
        page = await service.list_activities(principal.account_id, wanted)
    except InvalidQueryError as exc:
        # Show what can be shown: every status, or the first page, with what went wrong.
        if exc.field == "query.cursor":
            error = f"That page link no longer works ({exc}). Here is the first page."
            wanted = replace(wanted, cursor=None)
        else:
            form["status"], error = "", str(exc)
            wanted = replace(wanted, public_statuses=[])
        page = await service.list_activities(principal.account_id, wanted)
    next_url = None
    if page.next_cursor:
        next_url = f"{PAGE}?" + urlencode(form | {"cursor": page.next_cursor})
    return render(
        request,
        "activities.html",
        {
            "items": page.items,
            "form": form,
            "filtered": bool(form["status"] or normalise_search(q)),
            "statuses": public_status_names(),
            "orderings": {key: label for key, (label, _, _) in ORDERINGS.items()},
            "next_url": next_url,
            "first_url": f"{PAGE}?" + urlencode(form) if cursor else None,
            "error": error,
        },
        status_code=422 if error else 200,
        who=who,
    )


@router.post("/session", response_model=None)
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=8192)],
    next_: Annotated[str, Form(alias="next", max_length=200)] = PAGE,
) -> Response:
    who = Visitor(None, via_cookie=False)
    if not _same_origin(request):
        return _problem_page(request, who, 403, "Refused", "Sign in from this site's own form.")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = verifier.verify(token.strip())
    except InvalidTokenError:
        return sign_in_page(request, who, error="That token is not valid or has expired.")
    if principal.role not in (*LIST_ROLES, *DETAIL_ROLES):
        return sign_in_page(request, who, error="This page is for customers and support agents.")
    response = RedirectResponse(next_ if _NEXT.fullmatch(next_) else PAGE, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token.strip(),
        path=PAGE,
        httponly=True,
        samesite="strict",
        secure=_secure_cookie(request.app.state.settings),
    )
    return response


@router.post("/session/end", response_model=None)
async def sign_out(request: Request) -> Response:
    if not _same_origin(request):
        return _problem_page(
            request, Visitor(None, False), 403, "Refused", "Sign out from this site's own page."
        )
    response = RedirectResponse(PAGE, status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path=PAGE,
        httponly=True,
        samesite="strict",
        secure=_secure_cookie(request.app.state.settings),
    )
    return response


@router.get("/static/style.css")
async def stylesheet() -> Response:
    css = files("history").joinpath("static/style.css").read_bytes()
    return Response(
        css,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{ticket_id}", response_class=HTMLResponse)
async def request_page(
    request: Request, ticket_id: str, who: Who, service: Service
) -> HTMLResponse:
    principal = who.principal
    if principal is None:
        return sign_in_page(request, who)
    if principal.role not in DETAIL_ROLES:
        return _problem_page(request, who, 403, "Not available", "This page shows requests.")
    try:
        if not _TICKET_ID.fullmatch(ticket_id):
            raise RequestNotFoundError(ticket_id)
        view = await service.request_for(principal, ticket_id)
    except RequestNotFoundError:
        return _problem_page(
            request, who, 404, "Request not found", f"There is no request {ticket_id} for you."
        )
    owner = principal.role in LIST_ROLES
    # The owner reads the public conversation; an agent the whole timeline.
    timeline = view.public_timeline if owner else view.timeline
    return render(
        request,
        "request.html",
        {"view": view, "owner": owner, "timeline": timeline},
        who=who,
    )


def _secure_cookie(settings: HistorySettings) -> bool:
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    return settings.environment == "production"


def _same_origin(request: Request) -> bool:
    """Refuse a form posted from another site (login CSRF): browsers say where a request
    comes from in Sec-Fetch-Site and Origin; a client that sends neither is not a browser."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host")
