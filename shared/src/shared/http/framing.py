"""ASGI middleware: refuse a request whose body has more than one possible end.

Request smuggling lives in the gap between two readers of one byte stream. A request with both
`Content-Length` and `Transfer-Encoding: chunked` ends in one place for h11 (which goes by the
chunks) and in another for a proxy that goes by the length, so whatever lies between is, for
one of them, the start of a second request: one nobody in front of us has seen. h11 already
refuses several differing Content-Length values and any coding but `chunked`
(shared.http.server answers those as problem+json); it lets the pair through, so this refuses
it, and re-checks the rest in case the app is ever served by another HTTP implementation.

The refusal carries `Connection: close`, so uvicorn closes the connection and whatever was sent
after the head is never parsed as a request. Installed outermost (shared.http.app): nothing has
read the body yet.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.problems import Problem, problem_response


class RequestFramingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = framing_error(scope.get("headers", ()))
            if reason is not None:
                response = problem_response(
                    Problem(
                        title="Bad request",
                        status=400,
                        detail=reason,
                        instance=scope.get("path"),
                    ),
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def framing_error(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why the body's end is ambiguous, or None when exactly one framing is declared."""
    lengths: list[bytes] = []
    codings: list[bytes] = []
    for name, value in headers:
        name = name.lower()
        if name == b"content-length":
            lengths += [part.strip() for part in value.split(b",")]
        elif name == b"transfer-encoding":
            codings.append(value.strip().lower())
    if lengths and codings:
        return "a request may not carry both Content-Length and Transfer-Encoding"
    if codings and codings != [b"chunked"]:
        return "the only Transfer-Encoding accepted is `chunked`, once"
    if len(set(lengths)) > 1:
        return "the request declares differing Content-Length values"
    if lengths and not lengths[0].isdigit():
        return "Content-Length must be a number of bytes"
    return None
