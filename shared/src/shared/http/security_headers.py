"""ASGI middleware: the response headers that keep personal data where it was sent.

* `X-Content-Type-Options: nosniff` on every response: a browser never second-guesses our
  content type, so JSON (or an error echoing a query parameter) is never run as HTML or script.
* `Cache-Control: no-store` on every answer to a request that carried credentials (an
  Authorization header, or a cookie: the My-activities session is the only one we set): what
  such a response holds is someone's requests, messages or account, and no browser cache or
  shared proxy may keep a copy for the next user of the machine. A route that chose its own
  Cache-Control keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CREDENTIALS = frozenset({b"authorization", b"cookie"})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credentialed = any(name.lower() in _CREDENTIALS for name, _ in scope.get("headers", ()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if credentialed:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
