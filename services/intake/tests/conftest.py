"""Fixtures for the intake's tests over real HTTP on the embedded stack.

The intake under test runs as its own uvicorn process on the session's infrastructure (Kafka,
MongoDB), beside whatever else the session started: one more replica. It needs none of the
other services, and it pins the limits these tests exercise whatever the environment says.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack.processes import ManagedProcess
from devstack.stack import EmbeddedStack, free_port
from shared.mongo import Document
from shared.waiting import wait_until

from .intake_support import PINNED, IntakeUnderTest, serve_app, stub_router


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "intake_settings(**fields): settings of the in-process intake app"
    )


@pytest.fixture(scope="session")
async def router_stub(infra: EmbeddedStack) -> AsyncIterator[str]:
    async with serve_app(stub_router(), infra.config.host, free_port()) as url:
        yield url


@pytest.fixture(scope="session")
async def intake_server(infra: EmbeddedStack, router_stub: str) -> AsyncIterator[IntakeUnderTest]:
    config = infra.config
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "intake.app:create_app",
        "--factory",
        "--host",
        config.host,
        "--port",
        str(port),
        "--no-access-log",
    ]
    env = config.service_env("intake") | PINNED | {"INTAKE_PORT": str(port)}
    env["INTAKE_ROUTER_URL"] = router_stub
    log_file = config.log_dir / "intake-under-test.log" if config.log_dir else None
    process = ManagedProcess("intake-test", argv, env=env, log_file=log_file)
    await process.start()
    url = f"http://{config.host}:{port}"
    try:

        async def ready() -> bool:
            if not process.running:
                raise RuntimeError(f"intake exited; see {log_file}")
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{url}/readyz")).status_code == 200

        await wait_until(ready, timeout=60, what="the intake under test", interval=0.1)
        yield IntakeUnderTest(url, config.host, port, infra)
    finally:
        await process.stop()


@pytest.fixture
async def client(intake_server: IntakeUnderTest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=intake_server.url, timeout=20) as http:
        yield http


@pytest.fixture(scope="session")
async def mongo(infra: EmbeddedStack) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.config.mongo_url, tz_aware=True)
    yield client
    await client.close()
