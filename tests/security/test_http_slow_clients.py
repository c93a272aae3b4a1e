"""Slow clients cannot hold connections: a request head must arrive within the header timeout
(shared.http.server.GuardedH11Protocol, which the stack and compose serve with), however it
trickles in, and a body that stalls is answered 408 (shared.http.timeouts). The attack that
found it: half a request line, then nothing, held a connection for as long as the client
liked; uvicorn's h11 protocol has no timer until a first response."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from devstack.stack import SERVICES, EmbeddedStack
from devstack.testing import bearer
from shared.settings import ServiceSettings

from .http_support import address, exchange, extra_service, read_to_end, request_head

pytestmark = pytest.mark.e2e

TIMEOUT = 1.0  # seconds, both timers of the intake started here
SLACK = 2.0  # scheduling, process start-up noise


@pytest.fixture(scope="module")
async def impatient(infra: EmbeddedStack) -> AsyncIterator[str]:
    """An intake with one-second header and body timeouts, started as the stack starts its own."""
    env = {
        "INTAKE_HTTP_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
        "INTAKE_HTTP_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    async with extra_service(infra, "intake", env, "impatient") as stack:
        yield stack.config.url("intake")


async def test_half_a_request_line_is_cut_off(impatient: str) -> None:
    result = await exchange(impatient, b"GET /heal", deadline=TIMEOUT + SLACK + 5)
    assert result.closed, "the connection is still open"
    assert result.raw == b""
    assert TIMEOUT * 0.8 <= result.seconds <= TIMEOUT + SLACK


async def test_a_trickling_head_does_not_extend_the_deadline(impatient: str) -> None:
    host, port = address(impatient)
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    head = request_head("GET", "/healthz", {"X-Padding": "p" * 200})
    try:
        for byte in head[:-4]:  # never the blank line that ends the head
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.1)
            if reader.at_eof() or time.monotonic() - started > TIMEOUT + SLACK + 5:
                break
        _, closed = await read_to_end(reader, time.monotonic() + 1)
    finally:
        writer.close()
    assert closed
    assert time.monotonic() - started <= TIMEOUT + SLACK + 1


async def test_a_stalled_body_is_answered_408(impatient: str) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": "100"} | bearer("acc-1001")
    head = request_head("POST", "/v1/tickets", headers)
    result = await exchange(impatient, head + b'{"category": ', deadline=TIMEOUT + SLACK + 5)

    assert result.closed
    (response,) = result.responses
    assert response.status == 408
    assert response.is_problem
    assert response.headers["connection"].lower() == "close"
    assert result.seconds <= TIMEOUT + SLACK


async def test_a_prompt_client_keeps_its_connection(impatient: str) -> None:
    """The head timer restarts after each response: a keep-alive client that asks again
    promptly is not cut off, whatever the connection's age."""
    host, port = address(impatient)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(4):
            writer.write(request_head("GET", "/healthz"))
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200"), head
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            await asyncio.sleep(TIMEOUT * 0.6)  # together well past one timeout
    finally:
        writer.close()


async def test_every_service_closes_a_silent_connection_by_default(
    services: EmbeddedStack,
) -> None:
    default = ServiceSettings().http_header_timeout_seconds
    assert default == 10.0
    results = await asyncio.gather(
        *(
            exchange(services.config.url(s), b"POST /v1/tick", deadline=default + SLACK + 5)
            for s in SERVICES
        )
    )
    for service, result in zip(SERVICES, results, strict=True):
        assert result.closed, service
        assert result.seconds <= default + SLACK, service
