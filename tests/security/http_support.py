"""Raw HTTP/1.1 for the security tests of the wire (shared.http): what a hostile client sends is
exactly what we write on the socket, and what comes back is read to the end of the connection,
so a second response (a smuggled request answered) or a connection left open shows."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from devstack.stack import EmbeddedStack, free_port
from shared.waiting import wait_until

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_problem(self) -> bool:
        return self.headers.get("content-type", "").startswith(PROBLEM_JSON)


@dataclass(frozen=True)
class Exchange:
    """Everything the server sent on one connection, and whether it closed it."""

    raw: bytes
    closed: bool  # EOF (or reset) seen before the deadline
    seconds: float  # from our first byte to EOF, or to the deadline
    body_sent: int = 0  # of a body sent piece by piece: how much went before the answer

    @property
    def responses(self) -> list[RawResponse]:
        return parse_responses(self.raw)


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


async def exchange(url: str, data: bytes, *, deadline: float = 10.0) -> Exchange:
    """Send `data` on a fresh connection, send nothing more, and read until the server closes
    the connection or `deadline` seconds pass."""
    host, port = address(url)
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    try:
        writer.write(data)
        await writer.drain()
        raw, closed = await read_to_end(reader, started + deadline)
        return Exchange(raw, closed, time.monotonic() - started)
    finally:
        writer.close()


async def read_to_end(reader: asyncio.StreamReader, until: float) -> tuple[bytes, bool]:
    received = b""
    while (left := until - time.monotonic()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def parse_responses(raw: bytes) -> list[RawResponse]:
    """The responses in `raw`, one after the other (each has a Content-Length: ours do)."""
    responses = []
    while raw:
        head, separator, rest = raw.partition(b"\r\n\r\n")
        assert separator, f"an incomplete response head: {raw[:200]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        responses.append(RawResponse(int(status_line.split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return responses


def request_head(
    method: str, path: str, headers: Mapping[str, str] | None = None, *, host: str = "localhost"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def send_chunked_until_answered(
    url: str,
    head: bytes,
    total: int,
    *,
    prefix: bytes = b"",
    piece: int = 8192,
    deadline: float = 20.0,
) -> Exchange:
    """Send a chunked body of `total` bytes, `prefix` then filler, a piece at a time, stopping
    as soon as the server answers (it may refuse part-way); then read to the end of the
    connection."""
    host, port = address(url)
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    received = b""
    try:
        writer.write(head + chunk(prefix) if prefix else head)
        sent = len(prefix)
        while sent < total:
            with suppress(TimeoutError):
                received += await asyncio.wait_for(reader.read(65536), 0.001)
            if received:
                break  # answered: the rest would only be refused
            size = min(piece, total - sent)
            try:
                writer.write(chunk(b"a" * size))
                await writer.drain()
            except ConnectionError:
                break
            sent += size
        else:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        rest, closed = await read_to_end(reader, started + deadline)
        return Exchange(received + rest, closed, time.monotonic() - started, sent)
    finally:
        writer.close()


async def _ready(stack: EmbeddedStack, service: str) -> bool:
    process = stack.processes[service]
    if not process.running:
        raise RuntimeError(f"{service} exited")
    async with httpx.AsyncClient(timeout=2) as client:
        return (await client.get(f"{stack.config.url(service)}/readyz")).status_code == 200


@asynccontextmanager
async def extra_service(
    infra: EmbeddedStack, service: str, env: Mapping[str, str], name: str, *, ready: bool = True
) -> AsyncIterator[EmbeddedStack]:
    """One more process of `service` on the session's infrastructure, started as the stack starts
    its own (EmbeddedStack.service_process: the same uvicorn argv), on its own port and log file,
    with `env` over the session's settings. `ready=False`: do not wait (it may refuse to start)."""
    config = replace(
        infra.config,
        ports=replace(infra.config.ports, **{service: free_port()}),
        extra_env=dict(infra.config.extra_env) | dict(env),
    )
    stack = EmbeddedStack(config)
    process = stack.service_process(service)
    if config.log_dir is not None:  # beside the session's logs (test_logs reads them all)
        process.log_file = config.log_dir / f"{service}-{name}.log"
    stack.processes[service] = process
    await process.start()
    try:
        if ready:
            await wait_until(
                lambda: _ready(stack, service), timeout=60, what=f"{service} ({name})", interval=0.2
            )
        yield stack
    finally:
        await stack.stop_process(service)
