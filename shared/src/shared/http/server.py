"""uvicorn's h11 protocol with a deadline on the request head, and problem+json for bad HTTP.

Served with `uvicorn ... --http shared.http.server:GuardedH11Protocol` (devstack's stack, the
compose file). uvicorn arms a timer only between requests (keep-alive) and cancels it on the
first byte that arrives, so a client that sends half a request line, or a header a byte every
few seconds, holds the connection for ever: enough of them and the process runs out of file
descriptors. Here a timer starts when the connection opens and whenever a response is complete,
is not reset by data arriving, and is cancelled only once a request's head has been parsed; when
it fires, the connection is closed. The request body is timed in the ASGI layer
(shared.http.timeouts.BodyReadTimeoutMiddleware), where the app waits for it.

What h11 refuses as malformed (differing Content-Length values, a Transfer-Encoding other than
`chunked`, a broken request line) uvicorn answers in text/plain; here it is problem+json, like
every other error of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from shared.http.problems import PROBLEM_JSON, Problem
from shared.http.timeouts import header_timeout
from shared.logging import get_logger

log = get_logger(__name__)

_BAD_REQUEST = json.dumps(
    Problem(
        title="Bad request",
        status=400,
        detail="not a valid HTTP/1.1 request (malformed, or its body's length is ambiguous)",
    ).model_dump(by_alias=True, exclude_none=True)
).encode()


class GuardedH11Protocol(H11Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout_seconds = header_timeout()
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(_BAD_REQUEST)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                h11.Data(data=_BAD_REQUEST),
                h11.EndOfMessage(),
            ):
                output = self.conn.send(event)
                if output:
                    self.transport.write(output)
        except h11.LocalProtocolError:
            pass  # a response was already under way: all we can do is close
        self.transport.close()

    # -- the head's deadline ----------------------------------------------------------------

    def _waiting_for_a_head(self) -> bool:
        # No request of this connection is being handled: none has arrived yet, or ours has
        # been answered and the client owes us the next head (or the rest of a body we have
        # already answered, which is no more reason to hold the connection).
        return self.cycle is None or self.cycle.response_complete

    def _watch_head(self) -> None:
        if self.transport.is_closing() or not self._waiting_for_a_head():
            self._cancel_head_timer()
        elif self._head_timer is None:  # never re-armed by data: a trickle does not extend it
            self._head_timer = self.loop.call_later(
                self.header_timeout_seconds, self._head_timed_out
            )

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._waiting_for_a_head():
            return
        log.debug("closing a connection that sent no request head in time")
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()
