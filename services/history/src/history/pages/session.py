"""Who is visiting a page, and whether a form post really comes from our own page.

A browser cannot add an Authorization header to a link, so the pages also accept the same
bearer token from a cookie, set by a small sign-in form: HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it), Secure in production. The Authorization
header keeps working, and wins when both are present.

Every form post is checked twice against cross-site request forgery: the browser must say
it comes from this site (Sec-Fetch-Site / Origin), and the form must carry the token the
page put in it — an HMAC, keyed with the pages' secret, of a random per-browser cookie and
the session (the "signed double-submit cookie" of OWASP's cheat sheet): another site can
neither read the cookie nor compute the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from history.settings import HistorySettings
from shared.contracts.identity import Principal
from shared.tokens import InvalidTokenError, TokenVerifier

SESSION_COOKIE = "helpdesk_session"
CSRF_COOKIE = "helpdesk_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class Visitor:
    principal: Principal | None
    via_cookie: bool
    token: str = ""  # the bearer token the intake is called with on the visitor's behalf
    csrf_seed: str = ""  # this browser's CSRF cookie ("" until the first page sets it)
    new_seed: bool = False  # the seed was made for this response: set the cookie

    @property
    def signed_in(self) -> bool:
        return self.principal is not None


def visitor(request: Request) -> Visitor:
    """Who is asking: the Authorization header first, else the session cookie."""
    verifier: TokenVerifier = request.app.state.token_verifier
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    via_cookie = False
    token = credentials.strip() if scheme.lower() == "bearer" else ""
    if not token:
        token = request.cookies.get(SESSION_COOKIE, "")
        via_cookie = bool(token)
    seed = request.cookies.get(CSRF_COOKIE, "")
    new_seed = len(seed) != 43  # token_urlsafe(32); anything else was not made by us
    if new_seed:
        seed = secrets.token_urlsafe(32)
    if not token:
        return Visitor(None, False, csrf_seed=seed, new_seed=new_seed)
    try:
        principal = verifier.verify(token)
    except InvalidTokenError:
        return Visitor(None, via_cookie, csrf_seed=seed, new_seed=new_seed)
    return Visitor(principal, via_cookie, token, seed, new_seed)


Who = Annotated[Visitor, Depends(visitor)]


def csrf_token(settings: HistorySettings, who: Visitor) -> str:
    message = f"csrf:{who.csrf_seed}:{hashlib.sha256(who.token.encode()).hexdigest()}"
    return hmac.new(settings.page_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def genuine_post(request: Request, who: Visitor, submitted: str) -> bool:
    """The post came from one of our pages, in this browser, in this session."""
    if not same_origin(request) or who.new_seed or not submitted:
        return False
    expected = csrf_token(request.app.state.settings, who)
    return hmac.compare_digest(submitted.encode(), expected.encode())


def same_origin(request: Request) -> bool:
    """Browsers say where a request comes from in Sec-Fetch-Site and Origin; a client that
    sends neither is not a browser (and carries no cookie it did not choose to)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host")


def secure_cookie(settings: HistorySettings) -> bool:
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    return settings.environment == "production"


def remember_seed(response: Response, who: Visitor, settings: HistorySettings) -> None:
    if who.new_seed:
        response.set_cookie(
            CSRF_COOKIE,
            who.csrf_seed,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure_cookie(settings),
        )


def start_session(response: Response, token: str, settings: HistorySettings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(settings),
    )


def end_session(response: Response, settings: HistorySettings) -> None:
    for path in ("/", "/my-activities"):  # the second: where earlier versions put it
        response.delete_cookie(
            SESSION_COOKIE,
            path=path,
            httponly=True,
            samesite="strict",
            secure=secure_cookie(settings),
        )
