"""My activities: the customer's requests, one request's conversation, and what the customer
does on it — comment, add the documents asked for, download their files. Every write goes to
the intake's API as the customer (their own token), never around it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode
from uuid import uuid4

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from history.access import DETAIL_ROLES, LIST_ROLES
from history.api import Service
from history.domain.listing import (
    MAX_SEARCH_LENGTH,
    Order,
    SortField,
    normalise_search,
    public_status_names,
)
from history.domain.projection import RequestView
from history.pages.forms import BadFormError, errors_from, page_form, page_status
from history.pages.rendering import gettext_for, problem_page, render
from history.pages.session import CSRF_FIELD, Visitor, Who, genuine_post
from history.pages.signin import PAGE, refused, sign_in_page
from history.ports import IntakeAnswer, IntakeGateway, IntakeUnavailableError
from history.service import ActivityFilter, InvalidQueryError, RequestNotFoundError
from shared.contracts.catalog import Catalog, Document
from shared.contracts.events import TICKET_ID_PATTERN
from shared.contracts.statuses import Status

_TICKET_ID = re.compile(TICKET_ID_PATTERN)
_ATTACHMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FILES = 10

# The page orders a customer can pick, as one select: (sort, order).
ORDERINGS: dict[str, tuple[str, SortField, Order]] = {
    "newest": ("Newest first", SortField.CREATED, Order.DESC),
    "oldest": ("Oldest first", SortField.CREATED, Order.ASC),
    "updated": ("Recently updated", SortField.UPDATED, Order.DESC),
}

router = APIRouter(prefix=PAGE, include_in_schema=False)


def intake(request: Request) -> IntakeGateway:
    gateway: IntakeGateway = request.app.state.intake_gateway
    return gateway


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


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
    _ = gettext_for(request)
    if principal is None:
        return sign_in_page(request, who)
    if principal.role not in LIST_ROLES:
        return problem_page(
            request,
            who,
            403,
            _("Not available"),
            _("My activities lists a customer's own requests."),
        )
    form = {"status": status, "q": q, "sort": sort if sort in ORDERINGS else "newest"}
    _label, sort_field, order = ORDERINGS[form["sort"]]
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
            error = _("That page link no longer works. Here is the first page.")
            wanted = replace(wanted, cursor=None)
        else:
            form["status"], error = "", _("There is no such status. Here are all your requests.")
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
            "orderings": {key: label for key, (label, _s, _o) in ORDERINGS.items()},
            "next_url": next_url,
            "first_url": f"{PAGE}?" + urlencode(form) if cursor else None,
            "error": error,
        },
        status_code=422 if error else 200,
        who=who,
    )


def documents_needed(view: RequestView, catalog: Catalog) -> tuple[Document, ...]:
    """The documents to ask for on the page: what the routing decision named, else what the
    category needs; nothing once they came."""
    if not view.required_documents_missing:
        return ()
    named = view.decision.required_documents if view.decision else ()
    category = catalog.category(view.category or "")
    ids = named or (category.documents if category else ())
    try:
        found = catalog.documents_of(tuple(ids))
    except ValueError:
        found = ()
    # Asked for by an agent in words of their own, or not named anywhere: one general line.
    return found or catalog.documents_of(("id-front", "selfie-with-id"))


async def _request_page(
    request: Request,
    who: Visitor,
    service: Service,
    ticket_id: str,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal = who.principal
    _ = gettext_for(request)
    if principal is None:
        return sign_in_page(request, who)
    if principal.role not in DETAIL_ROLES:
        return problem_page(request, who, 403, _("Not available"), _("This page shows requests."))
    try:
        if not _TICKET_ID.fullmatch(ticket_id):
            raise RequestNotFoundError(ticket_id)
        view = await service.request_for(principal, ticket_id)
    except RequestNotFoundError:
        if request.query_params.get("new") == "1" and _TICKET_ID.fullmatch(ticket_id):
            # Just submitted: the intake has it; this page shows it in a moment.
            return render(
                request,
                "received.html",
                {
                    "ticket_id": ticket_id,
                    "message": _(
                        "We received your request. It appears here in a moment: reload the page."
                    ),
                },
                who=who,
            )
        return problem_page(
            request,
            who,
            404,
            _("Request not found"),
            _("There is no request %(id)s for you.", id=ticket_id),
        )
    owner = principal.role in LIST_ROLES
    notice = notice or _notice(request)
    return render(
        request,
        "request.html",
        {
            "view": view,
            "owner": owner,
            # The owner reads the public conversation; an agent the whole timeline.
            "timeline": view.public_timeline if owner else view.timeline,
            "documents": documents_needed(view, request.app.state.catalog) if owner else (),
            "closed": view.status is Status.CLOSED,
            "notice": notice,
            "errors": errors or {},
            "form": form or {},
            "comment_key": str(uuid4()),
            "documents_key": str(uuid4()),
        },
        status_code=status_code,
        who=who,
    )


async def _refused(
    request: Request,
    who: Visitor,
    service: Service,
    ticket_id: str,
    answer: IntakeAnswer,
    *,
    form: dict[str, str] | None = None,
) -> Response:
    """The intake refused a form: sign in again when the session expired (401), else the
    request's page again with the reasons next to their fields."""
    if answer.status == 401:
        return sign_in_page(request, Visitor(None, True, csrf_seed=who.csrf_seed))
    return await _request_page(
        request,
        who,
        service,
        ticket_id,
        errors=errors_from(answer, gettext_for(request)),
        form=form,
        status_code=page_status(answer),
    )


def _notice(request: Request) -> str | None:
    """What the last action did, after its redirect (?done=...)."""
    _ = gettext_for(request)
    done = request.query_params.get("done")
    if done == "comment":
        return _("Your comment was sent. It appears in the conversation in a moment.")
    if done == "documents":
        return _("Your documents were sent. Thank you.")
    if done == "follow-up":
        return _("The request was closed, so we opened a new request that follows it up.")
    return None


@router.get("/{ticket_id}", response_class=HTMLResponse)
async def request_page(
    request: Request, ticket_id: str, who: Who, service: Service
) -> HTMLResponse:
    return await _request_page(request, who, service, ticket_id)


def _owner_may_write(who: Visitor) -> bool:
    return who.principal is not None and who.principal.role in LIST_ROLES


@router.post("/{ticket_id}/comments", response_model=None)
async def comment(request: Request, ticket_id: str, who: Who, service: Service) -> Response:
    _ = gettext_for(request)
    try:
        async with page_form(request, max_files=0) as form:
            fields = form.fields
    except BadFormError:
        return problem_page(request, who, 400, _("Bad request"), _("The form could not be read."))
    if not genuine_post(request, who, fields.get(CSRF_FIELD, "")):
        return refused(request, who)
    if not _owner_may_write(who) or not _TICKET_ID.fullmatch(ticket_id):
        return await _request_page(request, who, service, ticket_id, status_code=403)
    body = fields.get("body", "")
    try:
        answer = await intake(request).post_json(
            f"/v1/tickets/{ticket_id}/comments",
            {"body": body},
            token=who.token,
            idempotency_key=fields.get("idempotency_key") or None,
        )
    except IntakeUnavailableError:
        return await _request_page(
            request,
            who,
            service,
            ticket_id,
            errors={
                "form": _("We could not send your comment just now. Please try again in a minute.")
            },
            form={"body": body},
            status_code=503,
        )
    if answer.ok:
        follow_up = isinstance(answer.body, dict) and answer.body.get("follow_up_ticket_id")
        if follow_up:
            return RedirectResponse(f"{PAGE}/{follow_up}?new=1&done=follow-up", status_code=303)
        return RedirectResponse(f"{PAGE}/{ticket_id}?done=comment", status_code=303)
    return await _refused(request, who, service, ticket_id, answer, form={"body": body})


@router.post("/{ticket_id}/documents", response_model=None)
async def add_documents(request: Request, ticket_id: str, who: Who, service: Service) -> Response:
    _ = gettext_for(request)
    try:
        async with page_form(request, max_files=MAX_FILES) as form:
            if not genuine_post(request, who, form.get(CSRF_FIELD)):
                return refused(request, who)
            if not _owner_may_write(who) or not _TICKET_ID.fullmatch(ticket_id):
                return await _request_page(request, who, service, ticket_id, status_code=403)
            if not form.files:
                return await _request_page(
                    request,
                    who,
                    service,
                    ticket_id,
                    errors={"attachments": _("Please choose at least one file.")},
                    status_code=422,
                )
            answer = await intake(request).post_form(
                f"/v1/tickets/{ticket_id}/documents",
                {},
                form.files,
                token=who.token,
                idempotency_key=form.get("idempotency_key") or None,
            )
    except BadFormError:
        return problem_page(request, who, 400, _("Bad request"), _("The form could not be read."))
    except IntakeUnavailableError:
        return await _request_page(
            request,
            who,
            service,
            ticket_id,
            errors={
                "form": _(
                    "We could not send your documents just now. Please try again in a minute."
                )
            },
            status_code=503,
        )
    if answer.ok:
        return RedirectResponse(f"{PAGE}/{ticket_id}?done=documents", status_code=303)
    return await _refused(request, who, service, ticket_id, answer)


@router.get("/{ticket_id}/attachments/{attachment_id}", response_model=None)
async def download(request: Request, ticket_id: str, attachment_id: str, who: Who) -> Response:
    """A file of the request, fetched from the intake as the visitor (it checks the owner)."""
    _ = gettext_for(request)
    if who.principal is None:
        return sign_in_page(request, who)
    if not _TICKET_ID.fullmatch(ticket_id) or not _ATTACHMENT_ID.fullmatch(attachment_id):
        return problem_page(request, who, 404, _("Not found"), _("There is no such file."))
    try:
        fetched = await intake(request).download(
            f"/v1/tickets/{ticket_id}/attachments/{attachment_id}", token=who.token
        )
    except IntakeUnavailableError:
        return problem_page(
            request, who, 503, _("Not available"), _("The file cannot be fetched just now.")
        )
    if fetched.status != 200:
        async for _chunk in fetched.chunks:  # drain and close
            pass
        return problem_page(request, who, 404, _("Not found"), _("There is no such file."))
    passed = {
        k: v
        for k, v in fetched.headers.items()
        if k.lower()
        in (
            "content-type",
            "content-length",
            "content-disposition",
            "repr-digest",
            "content-security-policy",
        )
    }
    return StreamingResponse(
        fetched.chunks,
        headers=passed
        | {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
