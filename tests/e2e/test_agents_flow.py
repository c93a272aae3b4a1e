"""A support team at work, through the four services as real processes: a request sits in the
wrong team; an agent reads it whole, notes it and moves it; the new team's topic gets the
request, the old team's a withdrawal, `make watch` prints both; the agent's view shows the
move, the customer's shows none of it; the dashboard counts one transfer and the time it cost;
and a customer's message on the closed request opens a linked follow-up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import accepted, bearer, read_topic
from shared.contracts.identity import Role
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 30.0
CUSTOMER = "acc-1002"
AGENT = bearer("agent-1", Role.AGENT)


@contextlib.asynccontextmanager
async def make_watch(stack: EmbeddedStack, team: str) -> AsyncIterator[asyncio.Queue[str]]:
    """`make watch TEAM=<team>` as a reader's shell runs it, its output lines in a queue."""
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(str(ROOT / ".venv"))
    )
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env |= {"PATH": path, "KAFKA_PORT": str(stack.config.ports.kafka)}
    process = await asyncio.create_subprocess_exec(
        "make",
        "-s",
        "watch",
        f"TEAM={team}",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    lines: asyncio.Queue[str] = asyncio.Queue()

    async def pump() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            await lines.put(line.decode(errors="replace").rstrip())

    pumping = asyncio.create_task(pump())
    try:
        yield lines
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        await process.wait()
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping


async def line_with(lines: asyncio.Queue[str], *parts: str) -> str:
    deadline = time.monotonic() + DEADLINE
    seen = []
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(lines.get(), deadline - time.monotonic())
        except TimeoutError:
            break
        seen.append(line)
        if all(p in line for p in parts):
            return line
    raise AssertionError(f"no line with {parts} in: {seen[-10:]}")


async def test_a_misrouted_request_is_moved_and_the_delay_counted(services: EmbeddedStack) -> None:
    config = services.config
    intake = httpx.AsyncClient(base_url=config.url("intake"), timeout=15)
    history = httpx.AsyncClient(base_url=config.url("history"), timeout=15)
    async with intake, history:
        submitted = await intake.post(
            "/v1/tickets",
            headers=bearer(CUSTOMER),
            json={
                "category": "cards",
                "subject": "Money did not arrive",
                "description": "I sent money yesterday and it has still not arrived anywhere.",
            },
        )
        assert submitted.status_code == 202, submitted.text
        ticket_id = submitted.json()["ticket_id"]
        [routed] = await read_topic(
            config.kafka_bootstrap,
            "tickets.routed",
            lambda e: e.get("ticket_id") == ticket_id,
            timeout=DEADLINE,
        )
        old = routed["team"]
        new = "withdrawals-transfers" if old != "withdrawals-transfers" else "payments-deposits"

        # The agent reads it whole, notes it, and moves it with the reason.
        async def whole() -> dict[str, Any] | None:
            response = await history.get(f"/v1/tickets/{ticket_id}", headers=AGENT)
            body: dict[str, Any] = response.json() if response.status_code == 200 else {}
            return body if body.get("team") == old else None

        view = await wait_until(whole, timeout=DEADLINE, what="the agent's view")
        assert view["description"].startswith("I sent money yesterday")
        assert view["decision"]["reason"] == routed["reason"]
        url = f"/v1/tickets/{ticket_id}"
        note = await intake.post(f"{url}/notes", headers=AGENT, json={"body": "Not a card issue"})
        assert note.status_code == 202, note.text
        async with make_watch(services, new) as new_team, make_watch(services, old) as old_team:
            moved = await accepted(
                lambda: intake.post(
                    f"{url}/transfers",
                    headers=AGENT | {"Idempotency-Key": f"move-{ticket_id}"},
                    json={"team": new, "reason": "A transfer that did not arrive"},
                )
            )
            assert moved.json()["event_type"] == "TicketTransferred"
            # The new team's topic has the request, the old one's the withdrawal...
            [assigned] = await read_topic(
                config.kafka_bootstrap,
                f"team.{new}",
                lambda e: e.get("ticket_id") == ticket_id and bool(e.get("transfer")),
                timeout=DEADLINE,
            )
            assert assigned["description"].startswith("I sent money yesterday")
            assert assigned["transfer"]["reason"] == "A transfer that did not arrive"
            [withdrawn] = await read_topic(
                config.kafka_bootstrap,
                f"team.{old}",
                lambda e: (
                    e.get("ticket_id") == ticket_id and e.get("event_type") == "TicketWithdrawn"
                ),
                timeout=DEADLINE,
            )
            assert withdrawn["transfer"]["to_team"] == new
            # ...and `make watch` prints each as it arrives.
            line = await line_with(new_team, "transferred", ticket_id)
            assert f"from {old}" in line
            assert "withdrawn" in await line_with(old_team, "withdrawn", ticket_id)

        async def moved_in_history() -> dict[str, Any] | None:
            body: dict[str, Any] = (await history.get(url, headers=AGENT)).json()
            return body if body["team"] == new and body["transfers"] else None

        agent_view = await wait_until(moved_in_history, timeout=DEADLINE, what="the move")
        [transfer] = agent_view["transfers"]
        assert (transfer["from_team"], transfer["to_team"]) == (old, new)
        assert "note" in [e["kind"] for e in agent_view["timeline"]]
        customer_view = (await history.get(url, headers=bearer(CUSTOMER))).json()
        kinds = {e["kind"] for e in customer_view["timeline"]}
        assert kinds.isdisjoint({"transferred", "note", "routed", "rerouted", "email_sent"})
        assert "Not a card issue" not in str(customer_view)
        # No team anywhere (the category is the customer's own pick, which they may read).
        shown = str({k: v for k, v in customer_view.items() if k != "category"})
        assert old not in shown
        assert new not in shown

        # The dashboard counts the transfer and the time the misroute cost.
        stats = await history.get("/v1/stats", headers=bearer("ops-1", Role.DASHBOARD))
        transfers = stats.json()["transfers"]
        assert transfers["count"] >= 1
        assert {"from_team": old, "to_team": new} in [
            {k: r[k] for k in ("from_team", "to_team")} for r in transfers["by_route"]
        ]
        assert transfers["time_lost"]["count"] >= 1

        # Solved, closed; the customer writes again: a follow-up request, linked both ways.
        for status in ("solved", "closed"):
            changed = await intake.post(f"{url}/status", headers=AGENT, json={"status": status})
            assert changed.status_code == 202, changed.text
        again = await intake.post(
            f"{url}/comments", headers=bearer(CUSTOMER), json={"body": "It still has not come"}
        )
        assert again.status_code == 202, again.text
        follow_up = again.json()["follow_up_ticket_id"]
        assert follow_up

        async def linked() -> bool:
            new_one = await history.get(f"/v1/tickets/{follow_up}", headers=bearer(CUSTOMER))
            old_one = (await history.get(url, headers=bearer(CUSTOMER))).json()
            return (
                new_one.status_code == 200
                and new_one.json()["follow_up_of"] == ticket_id
                and follow_up in old_one["follow_ups"]
            )

        await wait_until(linked, timeout=DEADLINE, what="the follow-up linked")
