"""pytest plugin: the infrastructure integration and end-to-end tests run against.

TEST_INFRA=embedded  Tansu + SecantusDB + aiosmtpd as child processes (no Docker needed)
TEST_INFRA=containers  testcontainers Kafka + MongoDB (needs a Docker engine), aiosmtpd local
TEST_INFRA=auto  (default) containers when a Docker engine answers, else embedded

Either way the tests talk real wire protocols through the same drivers the services use.
"""

from __future__ import annotations

import json
import mailbox
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from devstack.stack import PROCESSES, EmbeddedStack, StackConfig, StackPorts
from devstack.webdriver import browser_paths
from shared.contracts.identity import Role
from shared.settings import ServiceSettings
from shared.tokens import issue_token
from shared.waiting import wait_until


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def infra_mode() -> str:
    mode = os.environ.get("TEST_INFRA", "auto")
    if mode not in ("auto", "embedded", "containers"):
        raise pytest.UsageError(f"TEST_INFRA must be auto, embedded or containers, not {mode!r}")
    if mode == "auto":
        return "containers" if docker_available() else "embedded"
    return mode


@pytest.fixture(scope="session")
def container_endpoints() -> Iterator[tuple[str | None, str | None]]:
    """(kafka bootstrap, mongo url) of testcontainers, or (None, None) on the embedded stack."""
    if infra_mode() != "containers":
        yield None, None
        return
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    with ExitStack() as stack:
        kafka = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft())
        mongo = stack.enter_context(MongoDbContainer("mongo:8.0"))
        yield (
            kafka.get_bootstrap_server(),
            mongo.get_connection_url().rstrip("/") + "/?directConnection=true",
        )


@pytest.fixture(scope="session")
async def infra(
    tmp_path_factory: pytest.TempPathFactory,
    container_endpoints: tuple[str | None, str | None],
) -> AsyncIterator[EmbeddedStack]:
    """Kafka, MongoDB (seeded directory) and SMTP into a Maildir, up for the whole session."""
    data_dir: Path = tmp_path_factory.mktemp("stack")
    kafka, mongo = container_endpoints
    config = StackConfig(
        data_dir=data_dir,
        ports=StackPorts.free(),
        log_dir=data_dir / "logs",
        external_kafka=kafka,
        external_mongo=mongo,
        # Quick retries, so the SMTP fault tests wait seconds rather than minutes.
        extra_env={
            "NOTIFIER_RETRY_BASE_SECONDS": "0.2",
            "NOTIFIER_RETRY_MAX_DELAY_SECONDS": "1",
            # Tests submit many near-identical tickets from the demo accounts; the duplicate
            # check would couple them by content (intake's own tests cover it on their process).
            "INTAKE_RATE_LIMIT_TICKETS": "1000",
            "INTAKE_DUPLICATE_WINDOW_SECONDS": "0",
            # Every test's browser is 127.0.0.1 and they share the demo addresses; the
            # recovery limits are tested on their own (services/intake/tests).
            "INTAKE_RECOVERY_RATE_LIMIT_PER_ADDRESS": "1000",
            "INTAKE_RECOVERY_RATE_LIMIT_PER_CLIENT": "1000",
        },
    )
    stack = EmbeddedStack(config)
    try:
        await stack.start_infrastructure()
        yield stack
    finally:
        await stack.stop()


@pytest.fixture(scope="session")
async def services(infra: EmbeddedStack) -> AsyncIterator[EmbeddedStack]:
    """The four services as real processes (uvicorn) on the session's infrastructure."""
    await infra.start_services()
    yield infra
    for name in PROCESSES:
        await infra.stop_process(name)


@pytest.fixture(scope="session")
def browser_binaries() -> tuple[Path, Path]:
    """Chromium and its chromedriver (`make browser` installs Debian's); a test that needs
    them is skipped where they are missing, and fails in CI."""
    chromium, chromedriver = browser_paths()
    missing = [str(p) for p in (chromium, chromedriver) if not p.exists()]
    if missing:
        reason = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium, chromedriver


def bearer(account_id: str, role: Role = Role.CUSTOMER) -> dict[str, str]:
    """Authorization header with a development token, as `make token` would mint."""
    settings = ServiceSettings()
    token = issue_token(
        settings.jwt_verification_key,
        account_id,
        role,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    return {"Authorization": f"Bearer {token}"}


async def read_topic(
    bootstrap: str, topic: str, predicate: Callable[[dict[str, Any]], bool], *, timeout: float
) -> list[dict[str, Any]]:
    """Every JSON message on `topic` (from the start) that satisfies `predicate`, waiting up to
    `timeout` seconds for at least one."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = await wait_until(
            lambda: _partitions(consumer, topic), timeout=timeout, what=f"metadata of {topic}"
        )
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        found: list[dict[str, Any]] = []

        async def poll() -> list[dict[str, Any]]:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    try:
                        payload = json.loads(record.value or b"")
                    except ValueError:
                        continue
                    if isinstance(payload, dict) and predicate(payload):
                        found.append(payload | {"_headers": dict(record.headers)})
            return found

        return await wait_until(poll, timeout=timeout, what=f"a matching message on {topic}")
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int] | None:
    await consumer.topics()  # refresh metadata
    partitions: set[int] | None = consumer.partitions_for_topic(topic)
    return partitions


async def accepted(
    call: Callable[[], Awaitable[httpx.Response]], *, timeout: float = 30.0
) -> httpx.Response:
    """Post until accepted (202): a 409 that asks to retry (the request is not placed with its
    team yet: the intake has not read the router's decision) is worth waiting for."""

    async def attempt() -> httpx.Response | None:
        response = await call()
        if response.status_code == 409 and "retry" in response.text:
            return None
        assert response.status_code == 202, response.text
        return response

    return await wait_until(attempt, timeout=timeout, what="the action accepted", interval=0.2)


def read_maildir(maildir: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(str(maildir), factory=None, create=False)
    messages = []
    for key in box.iterkeys():
        message = message_from_bytes(box.get_bytes(key), policy=default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


async def wait_for_mail(
    maildir: Path, predicate: Callable[[EmailMessage], bool], *, timeout: float
) -> list[EmailMessage]:
    async def probe() -> list[EmailMessage]:
        if not (maildir / "new").exists():
            return []
        return [m for m in read_maildir(maildir) if predicate(m)]

    return await wait_until(probe, timeout=timeout, what="a matching e-mail in the Maildir")
