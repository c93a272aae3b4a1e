"""Mail delivery under faults, with the services as real processes: the SMTP server down and
back, deferring (4xx) and refusing (5xx), the notifier killed mid-batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from email.message import EmailMessage
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_maildir, read_topic
from notifier.settings import NotifierSettings
from shared.contracts.identity import Role
from shared.mongo import Document
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

# A safety net, not a target: after a SIGKILL the restarted consumer first waits out the dead
# member's session (10 s) before the group rebalances, and CI machines are slower than ours.
DEADLINE = 90.0


async def submit(stack: EmbeddedStack, count: int, account: str = "acc-1001") -> list[str]:
    # A tag per call: the intake treats an identical submission by the same account within its
    # duplicate window as a retry, and would answer another test's ticket id.
    tag = uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=10) as client:
        ids = []
        for n in range(count):
            response = await client.post(
                "/v1/tickets",
                headers=bearer(account),
                json={
                    "category": "cards",
                    "subject": f"Fault test {tag} #{n}",
                    "description": "My card has not arrived yet, please check.",
                },
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["ticket_id"])
        return ids


def acknowledgements(stack: EmbeddedStack, ticket_ids: Iterable[str]) -> list[EmailMessage]:
    wanted = set(ticket_ids)
    return [
        m
        for m in read_maildir(stack.config.maildir)
        if str(m["X-Request-Id"]) in wanted and "We received" in str(m["Subject"])
    ]


async def all_acknowledged(stack: EmbeddedStack, ticket_ids: list[str]) -> None:
    async def every_one() -> bool:
        return {str(m["X-Request-Id"]) for m in acknowledgements(stack, ticket_ids)} >= set(
            ticket_ids
        )

    await wait_until(every_one, timeout=DEADLINE, what="an acknowledgement for every ticket")


@pytest.fixture
async def smtp_restored(services: EmbeddedStack) -> AsyncIterator[EmbeddedStack]:
    """Whatever a test does to the SMTP server, the next test finds it healthy."""
    yield services
    await services.stop_process("smtp")
    await services.start_smtp()


async def test_smtp_down_then_back_delivers_every_mail_once(smtp_restored: EmbeddedStack) -> None:
    stack = smtp_restored
    await stack.stop_process("smtp")
    ids = await submit(stack, 5)
    client: AsyncMongoClient[Document] = AsyncMongoClient(stack.config.mongo_url)
    try:

        async def deferred() -> bool:
            retries = client["notifier"]["retries"]
            return await retries.count_documents({"source.ticket_id": {"$in": ids}}) == len(ids)

        await wait_until(deferred, timeout=DEADLINE, what="the notifier to defer the mails")
    finally:
        await client.close()
    assert acknowledgements(stack, ids) == []
    await stack.start_smtp()
    await all_acknowledged(stack, ids)
    counts = Counter(str(m["X-Request-Id"]) for m in acknowledgements(stack, ids))
    assert counts == Counter(dict.fromkeys(ids, 1))


async def test_deferred_4xx_then_accepted(smtp_restored: EmbeddedStack) -> None:
    stack = smtp_restored
    await stack.stop_process("smtp")
    await stack.start_smtp(reject_first=1, reject_code=451)
    ids = await submit(stack, 1)
    await all_acknowledged(stack, ids)
    assert len(acknowledgements(stack, ids)) == 1
    assert stack.config.log_dir is not None
    assert "rejected a message with 451" in (stack.config.log_dir / "smtp.log").read_text()


async def test_refused_5xx_is_dead_lettered_and_shown_as_failed(
    smtp_restored: EmbeddedStack,
) -> None:
    stack = smtp_restored
    await stack.stop_process("smtp")
    await stack.start_smtp(reject_first=1, reject_code=550)
    (ticket_id,) = await submit(stack, 1, account="acc-1002")
    failed = await read_topic(
        stack.config.kafka_bootstrap,
        "notifications",
        lambda e: e.get("ticket_id") == ticket_id and e.get("event_type") == "NotificationFailed",
        timeout=DEADLINE,
    )
    assert failed[0]["permanent"] is True
    assert "550" in failed[0]["reason"]
    parked = await read_topic(
        stack.config.kafka_bootstrap,
        "tickets.submitted.dlq",
        lambda e: e.get("ticket_id") == ticket_id,
        timeout=DEADLINE,
    )
    assert dict(parked[0]["_headers"])["x-dlq-service"] == b"notifier"
    assert acknowledgements(stack, [ticket_id]) == []
    await visible_failure_in_history(stack, ticket_id, "acc-1002")


async def test_unverified_address_gets_no_mail_and_a_visible_failure(
    services: EmbeddedStack,
) -> None:
    (ticket_id,) = await submit(services, 1, account="acc-1003")
    await visible_failure_in_history(services, ticket_id, "acc-1003")
    assert [
        m for m in read_maildir(services.config.maildir) if str(m["X-Request-Id"]) == ticket_id
    ] == []


async def visible_failure_in_history(stack: EmbeddedStack, ticket_id: str, account: str) -> None:
    """The agents see the failed delivery on the request; its owner never sees delivery records
    (history's public view)."""
    async with httpx.AsyncClient(base_url=stack.config.url("history"), timeout=10) as history:

        async def timeline(reader: dict[str, str]) -> list[dict[str, object]] | None:
            response = await history.get(f"/v1/tickets/{ticket_id}", headers=reader)
            return response.json()["timeline"] if response.status_code == 200 else None

        async def failure_entry() -> dict[str, object] | None:
            entries = await timeline(bearer("agent-1", Role.AGENT)) or []
            return next((e for e in entries if e["kind"] == "email_failed"), None)

        entry = await wait_until(failure_entry, timeout=DEADLINE, what="the failure in history")
        owners = await timeline(bearer(account))
    assert "E-mail not sent" in str(entry["summary"])
    assert owners is not None
    assert [e for e in owners if str(e["kind"]).startswith("email")] == []


async def test_notifier_killed_mid_batch_sends_one_mail_per_notification(
    services: EmbeddedStack,
) -> None:
    ids = await submit(services, 40, account="acc-1002")

    async def started() -> bool:
        return len(acknowledgements(services, ids)) >= 3

    await wait_until(started, timeout=DEADLINE, what="the first mails of the batch")
    await services.kill_process("notifier")  # SIGKILL: no drain, no commit
    await services.start_service("notifier")
    await all_acknowledged(services, ids)
    mails = acknowledgements(services, ids)
    per_notification = Counter(str(m["Message-ID"]) for m in mails)
    assert len(per_notification) == len(ids)
    # At most the mails in flight at the kill (one per request being served, up to the
    # notifier's concurrency) can have been accepted by the SMTP server before their ledger
    # entry (docs/reliability.md); a copy carries the same Message-ID, so mail clients fold it.
    assert sum(per_notification.values()) - len(ids) <= NotifierSettings().concurrency
