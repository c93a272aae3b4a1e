"""ASGI middleware: a cap on every request body, applied while it streams in.

FastAPI reads a JSON body whole before any handler code runs, so without this a client could
make the process buffer as much as it cares to send. A declared Content-Length over the cap is
refused before a byte of the body is read (curl's `Expect: 100-continue` then sends nothing);
a chunked body is counted and cut off at the cap.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import InvalidParam, Problem, problem_response

BodyCap = Callable[[Scope], int]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, cap_for: BodyCap) -> None:
        self.app = app
        self.cap_for = cap_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _too_large(scope, receive, send, cap)
            return

        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > cap:
                    refused = True
                    await _too_large(scope, receive, send, cap)
            if refused:
                # The app sees the client go away and stops; we have already answered.
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(scope: Scope, receive: Receive, send: Send, cap: int) -> None:
    response = problem_response(
        Problem(
            title="Content too large",
            status=413,
            detail=f"the request body may be at most {cap} bytes",
            instance=scope.get("path"),
            invalid_params=[InvalidParam(name="body", reason=f"larger than {cap} bytes")],
        ),
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
