"""The submission rate limit across two intake replicas hammered at once (one replica under
concurrency is covered in services/intake/tests), and production processes that refuse the
development key and default secrets, or accept only tokens signed with their own key."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from uuid import uuid4

import httpx
import pytest

from devstack.processes import ManagedProcess
from devstack.stack import SERVICES, EmbeddedStack, free_port
from devstack.testing import bearer
from shared.contracts.identity import Role
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.tokens import issue_token
from shared.waiting import wait_until

from .security_support import GOOD_TICKET, INTAKE_PRODUCTION_SECRETS, STRONG_SECRET

pytestmark = pytest.mark.e2e

LIMIT = 5


def _argv(service: str, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"{service}.app:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
    ]


@asynccontextmanager
async def extra_process(
    stack: EmbeddedStack, service: str, env: Mapping[str, str], name: str
) -> AsyncIterator[tuple[ManagedProcess, str]]:
    config = stack.config
    port = free_port()
    prefix = service.upper() + "_"
    full_env = config.service_env(service) | dict(env) | {f"{prefix}PORT": str(port)}
    log_file = config.log_dir / f"{service}-{name}.log" if config.log_dir else None
    process = ManagedProcess(f"{service}-{name}", _argv(service, config.host, port), full_env)
    process.log_file = log_file
    await process.start()
    try:
        yield process, f"http://{config.host}:{port}"
    finally:
        await process.stop()


async def _ready(process: ManagedProcess, url: str) -> bool:
    if not process.running:
        raise RuntimeError(f"{process.name} exited")
    async with httpx.AsyncClient(timeout=2) as client:
        return (await client.get(f"{url}/readyz")).status_code == 200


async def test_the_rate_limit_holds_across_replicas_under_concurrency(
    services: EmbeddedStack,
) -> None:
    env = {"INTAKE_RATE_LIMIT_TICKETS": str(LIMIT), "INTAKE_RATE_LIMIT_WINDOW_SECONDS": "3600"}
    async with (
        extra_process(services, "intake", env, "limit-a") as (a, url_a),
        extra_process(services, "intake", env, "limit-b") as (b, url_b),
    ):
        await wait_until(lambda: _ready(a, url_a), timeout=60, what="replica a", interval=0.2)
        await wait_until(lambda: _ready(b, url_b), timeout=60, what="replica b", interval=0.2)
        owner = f"acc-rl-{uuid4().hex[:10]}"
        async with httpx.AsyncClient(timeout=30) as client:

            async def submit(n: int) -> int:
                url = (url_a, url_b)[n % 2]
                body = GOOD_TICKET | {"description": f"Request {n}: my card has not arrived."}
                response = await client.post(f"{url}/v1/tickets", headers=bearer(owner), json=body)
                return response.status_code

            statuses = sorted(await asyncio.gather(*(submit(n) for n in range(4 * LIMIT))))
    assert statuses == [202] * LIMIT + [429] * (3 * LIMIT)


async def test_production_processes_refuse_development_and_default_secrets(
    infra: EmbeddedStack,
) -> None:
    cases = {
        "dev-key": {"JWT_SECRET": DEVELOPMENT_JWT_SECRET},
        "no-key": {},
        "short-key": {"JWT_SECRET": "short-but-not-the-dev-key"},
    }

    async def refused(service: str, case: str, settings: Mapping[str, str]) -> None:
        prefix = service.upper() + "_"
        env = {prefix + "ENVIRONMENT": "production"} | {prefix + k: v for k, v in settings.items()}
        async with extra_process(infra, service, env, f"prod-{case}") as (process, _):
            assert process.process is not None
            code = await asyncio.wait_for(process.process.wait(), timeout=60)
            assert code != 0, f"{service} started in production with {case}"
        assert process.log_file is not None
        log = process.log_file.read_text()
        assert "production needs JWT_SECRET" in log, (service, case)
        # The refusal names the problem, never the values it was given.
        for value in settings.values():
            assert value not in log, (service, case)

    # Every service with the development key; one with each other weak secret (the check is
    # shared, and each start costs a few seconds of CPU).
    await asyncio.gather(*(refused(service, "dev-key", cases["dev-key"]) for service in SERVICES))
    await asyncio.gather(
        refused("history", "no-key", cases["no-key"]),
        refused("intake", "short-key", cases["short-key"]),
    )


async def test_a_production_process_refuses_development_tokens(infra: EmbeddedStack) -> None:
    env = {
        "INTAKE_ENVIRONMENT": "production",
        "INTAKE_JWT_SECRET": STRONG_SECRET,
        "INTAKE_METRICS_TOKEN": "scrape-" + "t" * 40,
    } | INTAKE_PRODUCTION_SECRETS
    async with extra_process(infra, "intake", env, "prod-ok") as (process, url):
        await wait_until(lambda: _ready(process, url), timeout=60, what="production intake")
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            minted_by_make_token = bearer("acc-1001")  # the development key
            assert (
                await client.get("/v1/categories", headers=minted_by_make_token)
            ).status_code == (401)
            own = issue_token(
                STRONG_SECRET,
                "acc-1001",
                Role.CUSTOMER,
                audience="helpcentre",
                issuer="helpcentre-signin",
            )
            headers = {"Authorization": f"Bearer {own}"}
            assert (await client.get("/v1/categories", headers=headers)).status_code == 200
            assert (await client.get("/docs")).status_code == 404  # no advertised surface
