"""The dead-letter command on the running stack: a mail the SMTP server refused (550) and a
poison message are listed without their payloads; once the mail server is fixed, re-driving
the refused one sends its mail exactly once, and the poison, still bad, is parked again."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_maildir, read_topic
from shared.contracts.events import new_ticket_id
from shared.kafka.dlq import DeadLetter, read_dead_letters
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

DEADLINE = 60.0
SECRET_SUBJECT = "Redrive-secret subject 5Q"


async def cli(stack: EmbeddedStack, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.kafka.dlq",
        "--bootstrap-servers",
        stack.config.kafka_bootstrap,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


async def letters_where(stack: EmbeddedStack, **match: Any) -> list[DeadLetter]:
    async def probe() -> list[DeadLetter]:
        letters = await read_dead_letters(stack.config.kafka_bootstrap, ["tickets.submitted"])
        return [d for d in letters if all(d.summary().get(k) == v for k, v in match.items())]

    return await wait_until(probe, timeout=DEADLINE, what=f"dead letters {match}")


@pytest.fixture
async def smtp_refusing_once(services: EmbeddedStack) -> AsyncIterator[EmbeddedStack]:
    await services.stop_process("smtp")
    # Only this test's mail is refused, whatever else is in flight.
    await services.start_smtp(reject_first=1, reject_code=550, reject_containing=SECRET_SUBJECT)
    yield services
    await services.stop_process("smtp")
    await services.start_smtp()


async def test_list_then_redrive_after_the_fix(smtp_refusing_once: EmbeddedStack) -> None:
    stack = smtp_refusing_once
    async with httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=20) as intake:
        response = await intake.post(
            "/v1/tickets",
            headers=bearer("acc-1002"),
            json={
                "category": "cards",
                "subject": SECRET_SUBJECT,
                "description": "My card has not arrived, please check.",
            },
        )
    assert response.status_code == 202, response.text
    ticket_id = response.json()["ticket_id"]

    async def refused_letter() -> DeadLetter | None:
        parked = await letters_where(stack, service="notifier")
        return next((d for d in parked if ticket_id.encode() in d.value), None)

    letter = await wait_until(refused_letter, timeout=DEADLINE, what="the refused mail parked")

    poison_key = new_ticket_id()
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            "tickets.submitted", b"\xff\xfe not json", key=poison_key.encode()
        )
    finally:
        await producer.stop()

    async def poison_parked_by_all() -> list[DeadLetter] | None:
        found = await letters_where(stack, event_type="(not JSON)", redrives=0)
        mine = [d for d in found if d.key == poison_key.encode()]
        return mine if {d.summary()["service"] for d in mine} >= {"router", "history"} else None

    poison = await wait_until(poison_parked_by_all, timeout=DEADLINE, what="the poison parked")

    listing = await cli(stack, "list", "--topic", "tickets.submitted")
    assert letter.summary()["dlq"] in listing
    assert "550" in listing
    assert "(not JSON)" in listing
    assert SECRET_SUBJECT not in listing  # never the payload
    assert "@example.com" not in listing
    rows = [json.loads(line) for line in (await cli(stack, "list", "--json")).splitlines()]
    assert {"topic", "partition", "offset", "service", "error", "attempts", "time"} <= set(rows[0])

    # The fix: the SMTP server accepts again (the fixture's server refused only the first mail).
    at = letter.summary()["dlq"]  # the notifier parks it with its DLQ position only
    assert "re-drove 1 message" in await cli(
        stack, "redrive", "--topic", "tickets.submitted", "--offset", at
    )

    sent = await read_topic(
        stack.config.kafka_bootstrap,
        "notifications",
        lambda e: e.get("ticket_id") == ticket_id and e.get("event_type") == "NotificationSent",
        timeout=DEADLINE,
    )
    assert len(sent) == 1
    mails = [m for m in read_maildir(stack.config.maildir) if m["X-Request-Id"] == ticket_id]
    assert len(mails) == 1
    redriven = await read_topic(
        stack.config.kafka_bootstrap,
        "tickets.submitted",
        lambda e: e.get("ticket_id") == ticket_id,
        timeout=DEADLINE,
    )
    assert [dict(e["_headers"]).get("x-redrive-count") for e in redriven] == [None, b"1"]

    # The poison, re-driven once for all the groups that parked it, is parked again, counted.
    p = poison[0]
    out = await cli(
        stack, "redrive", "--topic", "tickets.submitted", "--offset", f"{p.partition}:{p.offset}"
    )
    assert "re-drove 1 message" in out

    async def parked_again() -> list[DeadLetter] | None:
        found = await letters_where(stack, event_type="(not JSON)", redrives=1)
        mine = [d for d in found if d.key == poison_key.encode()]  # other tests re-drive too
        return mine if {d.summary()["service"] for d in mine} >= {"router", "history"} else None

    again = await wait_until(parked_again, timeout=DEADLINE, what="the poison parked again")
    assert all(d.summary()["redrives"] == 1 for d in again)
