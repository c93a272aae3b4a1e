"""The thin path through all four services, as real processes on real wire protocols:
HTTP -> intake -> Kafka -> router -> team topic; notifier -> SMTP -> Maildir; history ->
MongoDB -> HTTP. Each assertion needs a different service, so taking any one out fails it.
"""

from __future__ import annotations

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_topic, wait_for_mail
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

DEADLINE = 15.0  # generous for a loaded CI machine; the README's 5 s is measured by make bench


async def test_submitted_ticket_is_routed_emailed_and_listed(services: EmbeddedStack) -> None:
    config = services.config
    async with httpx.AsyncClient(base_url=config.url("intake"), timeout=10) as intake:
        response = await intake.post(
            "/v1/tickets",
            headers=bearer("acc-1001"),
            json={
                "category": "trading",  # the wrong pick: the text is about a withdrawal
                "subject": "Withdrawal stuck",
                "description": "My BTC withdrawal to my hardware wallet is pending for two days.",
            },
        )
    assert response.status_code == 202, response.text
    ticket_id = response.json()["ticket_id"]

    # router: the request reaches a team topic, with the decision
    routed = await read_topic(
        config.kafka_bootstrap,
        "tickets.routed",
        lambda e: e.get("ticket_id") == ticket_id,
        timeout=DEADLINE,
    )
    team = routed[0]["team"]
    assigned = await read_topic(
        config.kafka_bootstrap,
        f"team.{team}",
        lambda e: e.get("ticket_id") == ticket_id,
        timeout=DEADLINE,
    )
    assert assigned[0]["subject"] == "Withdrawal stuck"
    assert assigned[0]["event_type"] == "TicketAssigned"

    # notifier: an acknowledgement to the account's own address, from the directory
    mails = await wait_for_mail(
        config.maildir, lambda m: ticket_id in str(m["Subject"]), timeout=DEADLINE
    )
    assert [str(m["To"]) for m in mails] == ["Alice <alice@example.com>"]
    assert mails[0]["X-Envelope-To"] == "alice@example.com"

    # history: the customer's list shows it with its status, and no team (the team's business)
    async with httpx.AsyncClient(base_url=config.url("history"), timeout=10) as history:

        async def listed() -> dict[str, object] | None:
            page = await history.get("/v1/accounts/me/activities", headers=bearer("acc-1001"))
            page.raise_for_status()
            item = next((i for i in page.json()["items"] if i["ticket_id"] == ticket_id), None)
            return item if item and item["public_status"] == "Open" else None

        item = await wait_until(listed, timeout=DEADLINE, what="the ticket in My activities")
    assert "team" not in item
    assert "status" not in item  # the internal status: customers see the public one
    assert team not in str(item)


async def test_another_customer_does_not_see_the_ticket(services: EmbeddedStack) -> None:
    config = services.config
    async with httpx.AsyncClient(base_url=config.url("intake"), timeout=10) as intake:
        response = await intake.post(
            "/v1/tickets",
            headers=bearer("acc-1002"),
            json={
                "category": "cards",
                "subject": "Card",
                "description": "My card has not arrived yet.",
            },
        )
    ticket_id = response.json()["ticket_id"]
    async with httpx.AsyncClient(base_url=config.url("history"), timeout=10) as history:

        async def owner_sees_it() -> bool:
            page = await history.get("/v1/accounts/me/activities", headers=bearer("acc-1002"))
            return any(i["ticket_id"] == ticket_id for i in page.json()["items"])

        await wait_until(owner_sees_it, timeout=DEADLINE, what="the owner's list")
        other = await history.get("/v1/accounts/me/activities", headers=bearer("acc-1001"))
        assert all(i["ticket_id"] != ticket_id for i in other.json()["items"])
        detail = await history.get(f"/v1/tickets/{ticket_id}", headers=bearer("acc-1001"))
        assert detail.status_code == 404
