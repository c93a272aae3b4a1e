"""The services' own log files hold no e-mail address, token or attachment content, after a
session that put all three in front of them: mails sent to the directory's addresses, tokens
good and bad, attachments stored and refused, and a poison message quoting an address and a
token in the validation error every consumer logs when it dead-letters it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from devstack.stack import SERVICES, EmbeddedStack
from devstack.testing import bearer, read_topic, wait_for_mail
from shared.contracts.events import new_ticket_id
from shared.waiting import wait_until

from .security_support import GOOD_TICKET, hostile_tokens

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ATTACHMENT_MARKER = "attachment-content-3f9a1c"


def service_logs(stack: EmbeddedStack) -> dict[str, str]:
    log_dir = stack.config.log_dir
    assert log_dir is not None
    # The four services and any extra intake the session started; not the SMTP test server
    # (whose job is to record addresses) nor the brokers.
    return {
        path.name: path.read_text(errors="replace")
        for path in sorted(Path(log_dir).glob("*.log"))
        if path.stem.split("-")[0] in SERVICES
    }


async def test_logs_hold_no_address_token_or_attachment_content(services: EmbeddedStack) -> None:
    config = services.config
    token = bearer("acc-1001")["Authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(base_url=config.url("intake"), timeout=20) as intake:
        note = ("note.txt", f"{ATTACHMENT_MARKER}\n".encode(), "text/plain")
        refused = (
            "a.zip",
            b"PK\x03\x04\x14\x00\x00" + ATTACHMENT_MARKER.encode(),
            "application/zip",
        )
        ok = await intake.post(
            "/v1/tickets",
            headers=bearer("acc-1001"),
            data=GOOD_TICKET,
            files=[("attachments", note)],
        )
        assert ok.status_code == 202, ok.text
        bad = await intake.post(
            "/v1/tickets",
            headers=bearer("acc-1001"),
            data=GOOD_TICKET | {"subject": "refused"},
            files=[("attachments", refused)],
        )
        assert bad.status_code == 415
        for hostile in hostile_tokens().values():
            response = await intake.get("/v1/categories", headers={"Authorization": hostile})
            assert response.status_code == 401
    ticket_id = ok.json()["ticket_id"]
    await wait_for_mail(config.maildir, lambda m: m["X-Request-Id"] == ticket_id, timeout=DEADLINE)

    # A poison message whose validation error quotes an address and a whole token.
    poison_id = new_ticket_id()
    poison = {
        "event_type": "TicketSubmitted",
        "ticket_id": poison_id,
        "account_id": "alice@example.com",
        "correlation_id": token,
        "subject": f"write to bob@example.org, token {token}",
    }
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            "tickets.submitted", json.dumps(poison).encode(), key=poison_id.encode()
        )
    finally:
        await producer.stop()

    async def parked_by_every_consumer() -> bool:
        parked = await read_topic(
            config.kafka_bootstrap,
            "tickets.submitted.dlq",
            lambda e: e.get("ticket_id") == poison_id,
            timeout=DEADLINE,
        )
        return {dict(p["_headers"])["x-dlq-service"] for p in parked} >= {
            b"router",
            b"notifier",
            b"history",
        }

    await wait_until(parked_by_every_consumer, timeout=DEADLINE, what="the poison in the DLQ")

    logs = service_logs(services)
    assert {"intake.log", "router.log", "notifier.log", "history.log"} <= set(logs)
    joined = "\n".join(logs.values())
    assert "dead-lettered" in joined  # the line that quoted the poison was written
    for name, text in logs.items():
        assert EMAIL.findall(text) == [], name
        assert "eyJ" not in text, name  # no token, not even a truncated one
        assert token[-20:] not in text, name
        assert ATTACHMENT_MARKER not in text, name
