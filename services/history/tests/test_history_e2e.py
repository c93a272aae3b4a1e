"""History end to end, on the embedded stack with the four services as real processes:
a request submitted through the intake, routed by the router, replied to and solved (agent
events published straight onto tickets.activity), e-mailed by the notifier, shown by history
through its API and its page in a real browser, then rebuilt from the topics by the replay.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devstack.stack import EmbeddedStack
from devstack.testing import bearer
from devstack.webdriver import Browser
from history.settings import HistorySettings
from shared.contracts.events import AgentReplied, Envelope, StatusChanged, StatusTransition, utcnow
from shared.contracts.identity import Role
from shared.contracts.statuses import Status
from shared.contracts.topics import Topics
from shared.kafka.publishing import event_headers
from shared.mongo import Document
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

ACCOUNT = "acc-1001"  # Alice: a verified address, so the notifier's e-mails show up too
AGENT = "agent-1"
DEADLINE = 20.0
# Saved on every run (git-ignored); docs/images/ holds the copies the README shows.
SCREENSHOTS = Path(__file__).resolve().parents[3] / ".data" / "screenshots"


@dataclass(frozen=True)
class Flow:
    ticket_id: str
    subject: str
    public_statuses: list[str]  # what the list showed after each step
    detail: dict[str, Any]  # an agent's view
    customer_detail: dict[str, Any]  # the owner's


async def publish(bootstrap: str, topic: str, *events: Envelope) -> None:
    """As the intake's agent endpoints would: key = ticket id, JSON body, event headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic,
                event.model_dump_json().encode(),
                key=event.ticket_id.encode(),
                headers=[(k, v.encode()) for k, v in event_headers(event).items()],
            )
    finally:
        await producer.stop()


async def listed_item(history: httpx.AsyncClient, ticket_id: str) -> dict[str, Any] | None:
    page = await history.get("/v1/accounts/me/activities", headers=bearer(ACCOUNT))
    page.raise_for_status()
    return next((i for i in page.json()["items"] if i["ticket_id"] == ticket_id), None)


async def detail_once(
    history: httpx.AsyncClient, ticket_id: str, done: Any, *, role: Role = Role.AGENT
) -> dict[str, Any] | None:
    reader = AGENT if role is Role.AGENT else ACCOUNT
    response = await history.get(f"/v1/tickets/{ticket_id}", headers=bearer(reader, role))
    if response.status_code != 200:
        return None
    detail: dict[str, Any] = response.json()
    return detail if done(detail) else None


def email_kinds(detail: dict[str, Any]) -> set[str]:
    return {e["details"]["kind"] for e in detail["timeline"] if e["kind"] == "email_sent"}


@pytest.fixture(scope="module")
async def flow(services: EmbeddedStack) -> Flow:
    config = services.config
    subject = f"Withdrawal stuck {uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=config.url("intake"), timeout=10) as intake:
        accepted = await intake.post(
            "/v1/tickets",
            headers=bearer(ACCOUNT),
            json={
                "category": "trading",
                "subject": subject,
                "description": "My BTC withdrawal to my hardware wallet is pending for two days.",
            },
        )
    assert accepted.status_code == 202, accepted.text
    ticket_id = accepted.json()["ticket_id"]
    statuses = []
    async with httpx.AsyncClient(base_url=config.url("history"), timeout=10) as history:

        async def routed() -> dict[str, Any] | None:
            item = await listed_item(history, ticket_id)
            agents = await detail_once(history, ticket_id, lambda d: d["team"])
            return item if item and agents else None

        item = await wait_until(routed, timeout=DEADLINE, what="the routed request listed")
        statuses.append(item["public_status"])

        ids = {"ticket_id": ticket_id, "account_id": ACCOUNT, "correlation_id": f"e2e-{ticket_id}"}
        await publish(
            config.kafka_bootstrap,
            Topics(config.topic_prefix).activity,
            AgentReplied(
                **ids,
                agent_id="agent-7",
                body="We found your withdrawal; it is on its way.",
                status_change=StatusTransition(from_status=Status.OPEN, to_status=Status.PENDING),
            ),
        )

        async def pending() -> dict[str, Any] | None:
            item = await listed_item(history, ticket_id)
            return item if item and item["public_status"] == "Awaiting your reply" else None

        statuses.append(
            (await wait_until(pending, timeout=DEADLINE, what="pending"))["public_status"]
        )
        await publish(
            config.kafka_bootstrap,
            Topics(config.topic_prefix).activity,
            StatusChanged(
                **ids,
                actor_id="agent-7",
                actor_role="agent",
                status_change=StatusTransition(from_status=Status.PENDING, to_status=Status.SOLVED),
            ),
        )
        # settled: solved, and the notifier's three e-mails recorded
        detail = await wait_until(
            lambda: detail_once(
                history,
                ticket_id,
                lambda d: (
                    d["status"] == "solved"
                    and email_kinds(d) >= {"acknowledgement", "agent_reply", "solved"}
                ),
            ),
            timeout=DEADLINE,
            what="the solved request with its e-mails",
        )
        solved = await listed_item(history, ticket_id)
        assert solved is not None
        statuses.append(solved["public_status"])
        customers = await detail_once(history, ticket_id, bool, role=Role.CUSTOMER)
        assert customers is not None
    return Flow(ticket_id, subject, statuses, detail, customers)


async def test_the_list_and_the_timeline_show_each_step(flow: Flow) -> None:
    assert flow.public_statuses == ["Open", "Awaiting your reply", "Solved"]
    detail = flow.detail
    assert detail["subject"] == flow.subject
    assert detail["public_status"] == "Solved"
    assert detail["first_reply_at"] is not None
    kinds = [e["kind"] for e in detail["timeline"]]
    steps = [k for k in kinds if k != "email_sent"]
    assert steps[0] == "submitted"
    assert steps[1] in ("routed", "rerouted")
    assert steps[2:] == ["reply", "status_changed"]
    routing = detail["timeline"][kinds.index(steps[1])]
    assert routing["details"]["reason"]  # why it went where it went
    assert detail["timeline"][kinds.index("status_changed")]["summary"] == "Status: Solved"
    times = [datetime.fromisoformat(e["at"]) for e in detail["timeline"]]
    assert times == sorted(times)
    # The customer reads the same request without any of the team's business.
    theirs = flow.customer_detail
    assert theirs["audience"] == "customer"
    assert [e["kind"] for e in theirs["timeline"]] == ["submitted", "reply", "status_changed"]
    assert not {"team", "priority", "decision", "assignee", "transfers"} & set(theirs)
    assert "withdrawals" not in str(theirs["timeline"]).lower()  # no team name, anywhere


async def test_the_page_in_a_browser(
    flow: Flow, services: EmbeddedStack, browser_binaries: tuple[Path, Path]
) -> None:
    base = services.config.url("history")
    token = bearer(ACCOUNT)["Authorization"].removeprefix("Bearer ")
    async with Browser.start(*browser_binaries) as browser:
        await browser.open(f"{base}/my-activities")
        assert await browser.text_of("h1") == "Sign in to the Help Centre"
        await browser.type("#token", token)
        await browser.click("form[action='/my-activities/session'] button")
        await browser.find("table")
        assert await browser.title() == "My activities · Help Centre"
        assert await browser.script("return document.cookie") == ""  # HttpOnly
        assert await browser.text_of("caption") == "Your requests"
        row = await browser.text_of(f"tr:has(a[href='/my-activities/{flow.ticket_id}'])")
        assert flow.subject in row
        assert "Solved" in row

        # the GET form: search and status filter, then the request's page
        await browser.type("#q", flow.subject.split()[-1].upper())
        await browser.click("form[role='search'] button")

        async def filtered() -> bool:  # the new page, not the one the click left
            return await browser.text_of("caption") == "Your requests matching the filter"

        await wait_until(filtered, timeout=10, what="the filtered list")
        assert len(await browser.find_all("tbody tr")) == 1
        await browser.screenshot(SCREENSHOTS / "my-activities.png")

        await browser.click(f"a[href='/my-activities/{flow.ticket_id}']")
        assert await browser.text_of("h1") == f"Request {flow.ticket_id}"
        timeline = await browser.text_of("ol.timeline")
        for step in ("You submitted the request", "Support replied", "Status: Solved"):
            assert step in timeline
        assert "We found your withdrawal" in timeline
        # The team's business stays with the team: no team, no routing, no e-mail records.
        for internal in ("team", "E-mail sent", "withdrawals-transfers"):
            assert internal not in timeline
        assert "pending for two days" in await browser.text_of(".description")
        await browser.screenshot(SCREENSHOTS / "my-activities-request.png", full_page=True)


def without_version(document: Document) -> Document:
    return {k: v for k, v in document.items() if k != "version"}


async def test_replay_rebuilds_the_live_projection_and_swaps_it_in(
    flow: Flow, services: EmbeddedStack
) -> None:
    config = services.config
    settings = HistorySettings()  # where the service keeps its projection
    client: AsyncMongoClient[Document] = AsyncMongoClient(config.mongo_url, tz_aware=True)
    database = client[settings.database]
    live = database[settings.collection]
    try:
        # Other tests' requests may still be receiving events (a retried e-mail, say): those
        # touched in the last seconds are left out; this test's request is compared always.
        settled = utcnow() - timedelta(seconds=10)
        before = {d["_id"]: d async for d in live.find()}
        assert flow.ticket_id in before

        replay = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "history.replay",
            env=os.environ | config.service_env("history"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(replay.communicate(), 60)
        assert replay.returncode == 0, output.decode()
        assert f"into {settings.collection}" in output.decode()

        after = {d["_id"]: d async for d in live.find()}
        assert set(after) >= set(before)
        for ticket_id, document in before.items():
            rebuilt = after[ticket_id]
            if ticket_id != flow.ticket_id and rebuilt["updated_at"] > settled:
                continue
            assert without_version(rebuilt) == without_version(document), ticket_id
            assert rebuilt["version"] > document["version"]  # written by the replay

        names = await database.list_collection_names()
        assert not [n for n in names if n.startswith(f"{settings.collection}_rebuild_")]
        indexes = {i["name"] async for i in await live.list_indexes()}
        assert {"account_created", "account_updated", "created_at", "status_team"} <= indexes

        # the live service keeps projecting into the swapped-in collection
        await publish(
            config.kafka_bootstrap,
            Topics(config.topic_prefix).activity,
            StatusChanged(
                ticket_id=flow.ticket_id,
                account_id=ACCOUNT,
                correlation_id="e2e-close",
                actor_id="agent-7",
                actor_role="agent",
                status_change=StatusTransition(from_status=Status.SOLVED, to_status=Status.CLOSED),
            ),
        )
        async with httpx.AsyncClient(base_url=config.url("history"), timeout=10) as history:

            async def closed() -> bool:
                item = await listed_item(history, flow.ticket_id)
                return bool(item and item["public_status"] == "Closed")

            await wait_until(closed, timeout=DEADLINE, what="the close after the swap")
    finally:
        await client.close()
