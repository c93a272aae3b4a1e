"""Slow clients: how long a client may hold a connection while sending us nothing.

Two timers, one per layer that waits on the client:

* the request head, in the HTTP protocol (shared.http.server.GuardedH11Protocol): uvicorn's h11
  protocol has no timer while headers trickle in, so a client sending a byte now and then would
  hold its connection (and a file descriptor) forever;
* the request body, here, in the ASGI layer: the app's `receive()` waits as long as the client
  likes, holding the request's task and whatever it has read so far. A body that stalls longer
  than `seconds` between two reads is answered 408 and the connection closed.

The header timeout is read by the protocol, which uvicorn builds per connection and which
cannot see the app's settings; build_app sets it here for the process (uvicorn loads the app
before it accepts a connection, and one uvicorn process serves one app).
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import Problem, problem_response

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
_header_timeout_seconds = DEFAULT_HEADER_TIMEOUT_SECONDS


def set_header_timeout(seconds: float) -> None:
    global _header_timeout_seconds
    _header_timeout_seconds = seconds


def header_timeout() -> float:
    return _header_timeout_seconds


class BodyReadTimeoutMiddleware:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        response_started = False
        timed_out = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                # After the body, receive() only reports a disconnect (Starlette's streaming
                # responses wait on it for as long as they stream): no timer.
                return await receive()
            try:
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                if not response_started:
                    await _timed_out(scope, receive, send, self.seconds)
                # The app sees the client go away and stops. Had it started its response, it
                # cannot finish it now, and uvicorn closes the connection on that.
                return {"type": "http.disconnect"}
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if timed_out:
                return  # answered already, or cut off: nothing more goes out
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except ClientDisconnect:
            if not timed_out:
                raise
            # The disconnect we reported, not an error: no traceback per slow client in the log.


async def _timed_out(scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
    response = problem_response(
        Problem(
            title="Request timeout",
            status=408,
            detail=f"the request body stalled for more than {seconds:g} s",
            instance=scope.get("path"),
        ),
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
