"""The support managers' dashboard in headless Chromium, the four services as real processes:
requests submitted through the intake and routed by the router show up on /dashboard as the
team's bar and count, the figures of GET /v1/stats for the same window, every chart an inline
SVG that breaks none of the page's Content-Security-Policy; a bad window says what is wrong;
a customer's (or an agent's) token does not open it. The screenshot goes to .data/screenshots
(with UPDATE_SCREENSHOTS=1 also to docs/images, where the README shows the pages)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import accepted, bearer
from devstack.webdriver import CLOSED_NETWORK, Browser
from shared.contracts.identity import Role
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".data" / "screenshots"
README_IMAGES = ROOT / "docs" / "images"
DASHBOARD = bearer("ops-1", Role.DASHBOARD)
AGENT = bearer("agent-1", Role.AGENT)
WITHDRAWAL = (
    "I sent 0.5 BTC from my account to my wallet two days ago and the withdrawal is still pending."
)
REQUESTS = [  # (account, the customer's pick, subject, description)
    ("acc-1001", "withdrawals", "Withdrawal pending", WITHDRAWAL),
    ("acc-1002", "trading", "Money not arrived", WITHDRAWAL),  # the wrong pick: rerouted
    ("acc-1001", "cards", "Card not arrived", "I ordered my card weeks ago; it has not arrived."),
    ("acc-1002", "disable-2fa", "New phone", "I lost the phone with my authenticator app."),
]
# What the page's tables and figures say, read in the browser (WebDriver's script runs
# outside the page's CSP; the page itself has no script).
READ_PAGE = """
const rows = id => [...document.querySelectorAll(`#${id} tbody tr`)].map(
  tr => [...tr.children].map(cell => cell.textContent.trim()));
const figures = id => Object.fromEntries([...document.querySelectorAll(`#${id} div`)].map(
  d => [d.querySelector('dt').textContent.trim(), d.querySelector('dd').textContent.trim()]));
return {
  bars: [...document.querySelectorAll('#volume-chart rect.bar')].map(
    r => [r.querySelector('title').textContent, parseFloat(r.getAttribute('height'))]),
  charts: [...document.querySelectorAll('svg.chart')].map(s => s.getAttribute('aria-labelledby')),
  volume: rows('volume-table'),
  summary: figures('summary'),
  reply: figures('reply-figures'),
  sla: rows('sla-table'),
  ages: rows('age-table'),
  empty: [...document.querySelectorAll('p.empty')].map(p => p.textContent.trim()),
  styled: document.querySelectorAll('[style]').length,
};
"""


@asynccontextmanager
async def signed_in_for_the_dashboard(
    stack: EmbeddedStack, binaries: tuple[Path, Path], headers: dict[str, str]
) -> AsyncIterator[Browser]:
    """A browser on a closed network that signed in through the form /dashboard shows."""
    async with Browser.start(*binaries, extra_args=CLOSED_NETWORK) as browser:
        await browser.open(f"{stack.config.url('history')}/dashboard")
        assert await browser.text_of("h1") == "Sign in to the Help Centre"
        await browser.type("#token", headers["Authorization"].removeprefix("Bearer "))
        await browser.click("form[action='/my-activities/session'] button")
        yield browser


def count(text: str) -> int:
    return int(text.replace(",", ""))


async def test_a_manager_sees_the_routed_requests_on_the_dashboard(
    services: EmbeddedStack, browser_binaries: tuple[Path, Path]
) -> None:
    start = datetime.now(UTC)  # the window: this test's requests alone
    window = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    intake = httpx.AsyncClient(base_url=services.config.url("intake"), timeout=15)
    history = httpx.AsyncClient(base_url=services.config.url("history"), timeout=15)
    async with intake, history:
        ids = []
        for account, category, subject, description in REQUESTS:
            submitted = await intake.post(
                "/v1/tickets",
                headers=bearer(account),
                json={"category": category, "subject": subject, "description": description},
            )
            assert submitted.status_code == 202, submitted.text
            ids.append(submitted.json()["ticket_id"])
        # An agent answers the first and solves it: a time to first reply.
        await accepted(
            lambda: intake.post(
                f"/v1/tickets/{ids[0]}/replies",
                headers=AGENT | {"Idempotency-Key": f"reply-{ids[0]}"},
                json={"body": "It is on its way.", "status": "solved"},
            )
        )

        async def placed() -> dict[str, str] | None:
            """Each request's team once history has them all routed and the reply."""
            teams = {}
            for ticket_id in ids:
                view = await history.get(f"/v1/tickets/{ticket_id}", headers=AGENT)
                if view.status_code != 200 or not view.json().get("team"):
                    return None
                teams[ticket_id] = view.json()["team"]
            stats = (await history.get("/v1/stats", params=window, headers=DASHBOARD)).json()
            settled = stats["routed"] == len(ids) and stats["time_to_first_reply"]["count"]
            return teams if settled else None

        teams = await wait_until(placed, timeout=DEADLINE, what="the requests routed")
        expected = Counter(teams.values())
        stats = (await history.get("/v1/stats", params=window, headers=DASHBOARD)).json()

        # Neither a customer's nor an agent's token opens it, nor no token.
        for headers in (bearer("acc-1001"), AGENT):
            refused = await history.get("/dashboard", headers=headers)
            assert refused.status_code == 403
            assert "<svg" not in refused.text
        anonymous = await history.get("/dashboard")
        assert anonymous.status_code == 401
        assert "Sign in to the Help Centre" in anonymous.text

    page = f"{services.config.url('history')}/dashboard?{urlencode(window)}"
    async with signed_in_for_the_dashboard(services, browser_binaries, DASHBOARD) as browser:
        await browser.text_of("h1", containing="Support dashboard")  # the last seven days
        await browser.console()  # the sign-in page's 401 is logged; start clean
        await browser.open(page)
        await browser.text_of("h1", containing="Support dashboard")
        shown: dict[str, Any] = await browser.script(READ_PAGE)
        # A bar per team with the team's count (ours among them), heights proportional.
        volume = Counter[str]()
        for row in stats["by_team_and_status"]:
            volume[row["team"]] += row["count"]
        assert all(volume[team] >= n for team, n in expected.items())
        bars = {}
        for title, tall in shown["bars"]:
            team, _, n = title.rpartition(": ")
            bars[team] = (count(n), tall)
        assert {team: n for team, (n, _h) in bars.items()} == dict(volume)
        tallest, most = max(h for _n, h in bars.values()), max(volume.values())
        for team, (n, tall) in bars.items():
            assert tall == pytest.approx(tallest * n / most, rel=0.01), team
        assert {row[0]: count(row[-1]) for row in shown["volume"]} == dict(volume)
        # The figures are the API's for the same window.
        summary = shown["summary"]
        assert count(summary["Requests"]) == stats["requests"]
        assert stats["requests"] >= len(ids)
        assert count(summary["Routed"]) == stats["routed"]
        assert summary["Rerouted"].startswith(str(stats["rerouted"]))
        assert count(shown["reply"]["Requests answered"]) == stats["time_to_first_reply"]["count"]
        assert shown["reply"]["Median"] not in ("", "—")
        # The SLA and backlog-by-age lists: rows when the store fills them, else says so.
        assert len(shown["sla"]) == len(stats["sla"])
        if not stats["sla"]:
            assert "No SLA figures for this window yet." in shown["empty"]
        if not stats["backlog_by_age"]:
            assert "No ages of the backlog yet." in shown["empty"]
        assert "volume-chart-title volume-chart-desc" in shown["charts"]
        assert shown["styled"] == 0
        # Nothing the Content-Security-Policy refused, no failed load (but the favicon).
        assert [e for e in await browser.console() if "favicon" not in e["message"]] == []
        await browser.screenshot(SCREENSHOTS / "dashboard.png", full_page=True)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            README_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SCREENSHOTS / "dashboard.png", README_IMAGES / "dashboard.png")

        # The window picker: the form holds the window and sends it again...
        await browser.click("form.filters button[type=submit]")

        async def resent() -> bool:
            return "from=" in await browser.url()

        await wait_until(resent, timeout=10, what="the picker's GET")
        assert "Requests created from" in await browser.text_of("p.window")
        # ...and a window the wrong way round says so, with no figures.
        backwards = {"from": window["to"], "to": window["from"]}
        await browser.open(f"{services.config.url('history')}/dashboard?{urlencode(backwards)}")
        assert "must be before" in await browser.text_of("#window-error")
        assert not await browser.find_all("svg.chart")


async def test_a_customer_token_does_not_open_the_dashboard(
    services: EmbeddedStack, browser_binaries: tuple[Path, Path]
) -> None:
    async with signed_in_for_the_dashboard(
        services, browser_binaries, bearer("acc-1001")
    ) as browser:
        refusal = await browser.text_of("[role=alert]", containing="for support managers")
        assert refusal == "The dashboard is for support managers."
        assert await browser.text_of("h1") == "Sign in to the Help Centre"  # not signed in
        await browser.open(f"{services.config.url('history')}/dashboard")
        assert await browser.text_of("h1") == "Sign in to the Help Centre"
        assert not await browser.find_all("svg.chart")
    token = bearer("acc-1001")["Authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(base_url=services.config.url("history"), timeout=10) as client:
        by_cookie = await client.get("/dashboard", headers={"Cookie": f"helpdesk_session={token}"})
        assert by_cookie.status_code == 403
        assert "The dashboard is for support managers." in by_cookie.text
