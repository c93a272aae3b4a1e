"""Rendering a page: Jinja templates in the visitor's language (gettext catalogues, shared.i18n),
escaped everywhere, and the headers every personal page carries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from babel.dates import format_skeleton
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from history.pages.session import CSRF_FIELD, Visitor, csrf_token, remember_seed
from shared.i18n import LANGUAGE_NAMES, negotiate, translations

# Personal data: never cached, never framed, forms post only to us, no script but our own
# file (no inline script, no eval). The referrer stays on this site (request numbers are in
# our URLs); "no-referrer" would also make the browser send `Origin: null` with our forms.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)
SCRIPTED_CSP = CSP + "; script-src 'self'; connect-src 'self'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("history", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations("history", locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = lambda value, seconds=False: _when(value, locale, seconds=seconds)
    env.globals["locale"] = locale
    return env


def _when(value: datetime | None, locale: str, *, seconds: bool = False) -> str:
    if value is None:
        return "—"
    # The locale's own order and words for a date, a 24-hour time, in UTC.
    day = format_skeleton("yMMMd", value, tzinfo=UTC, locale=locale)
    time = format_skeleton("Hms" if seconds else "Hm", value, tzinfo=UTC, locale=locale)
    return f"{day}, {time} UTC"


def page_locale(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def gettext_for(request: Request) -> Callable[..., str]:
    """`_("text %(name)s", name=...)` in the visitor's language, for text made in code."""
    catalogue = translations("history", page_locale(request))

    def translate(message: str, **values: object) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return translate


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    who: Visitor,
    status_code: int = 200,
    scripted: bool = False,
) -> HTMLResponse:
    settings = request.app.state.settings
    locale = page_locale(request)
    page_context = {
        "signed_in": who.signed_in,
        "via_cookie": who.via_cookie,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(settings, who),
        "languages": LANGUAGE_NAMES,
        "request_path": request.url.path,
    }
    html = environment(locale).get_template(template).render(page_context | context)
    response = HTMLResponse(html, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = SCRIPTED_CSP if scripted else CSP
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Accept-Language, Cookie, Authorization"
    if status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    remember_seed(response, who, settings)
    return response


def problem_page(
    request: Request, who: Visitor, status_code: int, title: str, message: str
) -> HTMLResponse:
    return render(
        request,
        "problem.html",
        {"title": title, "message": message},
        status_code=status_code,
        who=who,
    )
