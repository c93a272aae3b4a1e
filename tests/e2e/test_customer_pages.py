"""The customer's pages in headless Chromium, the four services as real processes: submit a
request with the suggestion as one types (and the same without JavaScript), comment and add
documents on the request page, and recover a 2FA-locked account from the e-mailed link to a
filed request. The router down, the form still submits. Screenshots go to .data/screenshots
(docs/images holds the ones the README shows)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_maildir, wait_for_mail
from devstack.webdriver import CLOSED_NETWORK, Browser
from shared.contracts.identity import Role
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".data" / "screenshots"
AGENT = bearer("agent-1", Role.AGENT)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"pixels" * 50 + b"\xff\xd9"
TICKET_IN_URL = re.compile(r"/my-activities/([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})")
LINK = re.compile(r"https?://[^\s>\"]+/account-recovery/[A-Za-z0-9_-]{22,64}\.[0-9a-f]{32}")
WITHDRAWAL = (
    "I sent 0.5 BTC from my account to my wallet two days ago and the withdrawal is still pending."
)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "passport.jpg"
    path.write_bytes(JPEG)
    return path


@asynccontextmanager
async def signed_in(
    stack: EmbeddedStack, binaries: tuple[Path, Path], account: str, *, javascript: bool = True
) -> AsyncIterator[Browser]:
    """A browser on a closed network, signed in through the sign-in form, on the submit page."""
    base = stack.config.url("history")
    async with Browser.start(
        *binaries, extra_args=CLOSED_NETWORK, javascript=javascript
    ) as browser:
        await browser.open(f"{base}/requests/new")
        assert await browser.text_of("h1") == "Sign in to the Help Centre"
        await browser.type("#token", bearer(account)["Authorization"].removeprefix("Bearer "))
        await browser.click("form[action='/my-activities/session'] button")
        await browser.text_of("h1", containing="Submit a request")
        # The sign-in page answers 401 (the visitor was not signed in): the console logs that
        # load; start the page's own checks with a clean console.
        await browser.console()
        yield browser


async def agent_view(stack: EmbeddedStack, ticket_id: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=stack.config.url("history"), timeout=10) as history:
        response = await history.get(f"/v1/tickets/{ticket_id}", headers=AGENT)
    return response.json() if response.status_code == 200 else None


async def placed(stack: EmbeddedStack, ticket_id: str, team: str) -> dict[str, Any]:
    """The request as agents see it once it sits in `team`'s queue."""

    async def in_queue() -> dict[str, Any] | None:
        async with httpx.AsyncClient(base_url=stack.config.url("history"), timeout=10) as history:
            queue = await history.get(f"/v1/teams/{team}/queue", headers=AGENT)
        if ticket_id not in {item["ticket_id"] for item in queue.json().get("items", [])}:
            return None
        return await agent_view(stack, ticket_id)

    return await wait_until(in_queue, timeout=DEADLINE, what=f"{ticket_id} in {team}'s queue")


async def submitted_ticket(browser: Browser) -> str:
    async def landed() -> str | None:
        found = TICKET_IN_URL.search(await browser.url())
        return found.group(1) if found else None

    return await wait_until(landed, timeout=DEADLINE, what="the page after submitting")


async def test_the_suggestion_corrects_a_wrong_pick_before_it_is_made(
    services: EmbeddedStack, browser_binaries: tuple[Path, Path], photo: Path
) -> None:
    async with signed_in(services, browser_binaries, "acc-1001") as browser:
        await browser.select("#category", "trading")  # the wrong pick of the seeds
        await browser.type("#subject", "Money not arrived")
        await browser.type("#description", WITHDRAWAL)
        await browser.text_of("#suggestion .looks-like", containing="Withdrawals")
        await browser.screenshot(SCREENSHOTS / "submit-suggestion.png", full_page=True)
        await browser.click("#suggestion .use-category")
        assert await browser.value_of("#category") == "withdrawals"
        await browser.attach("#attachments", photo)
        await browser.click("#request-form button[type=submit]")
        ticket_id = await submitted_ticket(browser)
        # No Content-Security-Policy violation, no failed load (but the favicon we do not have).
        assert [e for e in await browser.console() if "favicon" not in e["message"]] == []
    view = await placed(services, ticket_id, "withdrawals-transfers")
    assert view["category"] == "withdrawals"
    assert [a["filename"] for a in view["attachments"]] == ["passport.jpg"]


async def test_without_javascript_the_form_works_the_same_minus_suggestions(
    services: EmbeddedStack, browser_binaries: tuple[Path, Path], photo: Path
) -> None:
    async with signed_in(services, browser_binaries, "acc-1002", javascript=False) as browser:
        await browser.select("#category", "withdrawals")
        await browser.type("#subject", "Withdrawal pending")
        await browser.type("#description", WITHDRAWAL)
        await browser.attach("#attachments", photo)
        assert await browser.find_all("#suggestion[hidden]")  # no script ran to fill it
        await browser.click("#request-form button[type=submit]")
        ticket_id = await submitted_ticket(browser)
    view = await placed(services, ticket_id, "withdrawals-transfers")
    assert view["account_id"] == "acc-1002"
    assert len(view["attachments"]) == 1


async def test_a_customer_comments_and_adds_the_documents_asked_for(
    services: EmbeddedStack, browser_binaries: tuple[Path, Path], photo: Path
) -> None:
    async with signed_in(services, browser_binaries, "acc-1001") as browser:
        await browser.select("#category", "disable-2fa")
        await browser.type("#subject", "New phone")
        await browser.type("#description", "I lost the phone with my authenticator app.")
        await browser.click("#request-form button[type=submit]")  # no ID photos attached
        ticket_id = await submitted_ticket(browser)
        page = f"{services.config.url('history')}/my-activities/{ticket_id}"

        async def documents_asked() -> bool:
            await browser.open(page)
            return bool(await browser.find_all("#documents form"))

        await wait_until(documents_asked, timeout=DEADLINE, what="the Add documents form")
        asked = await browser.text_of("#documents")
        assert "selfie" in asked  # the documents are named, not "ID photos"
        await browser.type("#body", "The photos follow in a minute.")
        await browser.click("#comment button[type=submit]")
        await browser.text_of(".notice", containing="Your comment was sent")
        await browser.attach("#attachments", photo)
        await browser.click("#documents button[type=submit]")
        await browser.text_of(".notice", containing="Your documents were sent")

        async def conversation() -> str | None:
            await browser.open(page)
            text = await browser.text_of("ol.timeline")
            done = "The photos follow" in text and "You added documents" in text
            return text if done else None

        text = await wait_until(conversation, timeout=DEADLINE, what="the comment and the files")
        for internal in ("security", "team", "confidence", "rule"):
            assert internal not in text.lower()
        assert not await browser.find_all("#documents form")  # nothing more to add
        await browser.screenshot(SCREENSHOTS / "request-page.png", full_page=True)
    view = await agent_view(services, ticket_id)
    assert view is not None
    assert [a["filename"] for a in view["attachments"]] == ["passport.jpg"]


async def test_a_locked_out_customer_recovers_from_the_mailed_link(
    services: EmbeddedStack, browser_binaries: tuple[Path, Path], photo: Path
) -> None:
    base = services.config.url("history")

    def alices_link(m: Any) -> bool:
        return m["X-Envelope-To"] == "alice@example.com" and LINK.search(_text(m)) is not None

    earlier = {m["Message-ID"] for m in read_maildir(services.config.maildir) if alices_link(m)}
    async with Browser.start(*browser_binaries, extra_args=CLOSED_NETWORK) as browser:
        await browser.open(f"{base}/my-activities")
        await browser.click("a[href='/account-recovery']")  # from the sign-in page
        await browser.type("#email", "carol.recovery@example.com")  # no such account
        await browser.click("form[action='/account-recovery'] button")
        unknown = await browser.text_of(".notice")
        await browser.open(f"{base}/account-recovery")
        await browser.type("#email", "alice@example.com")
        await browser.click("form[action='/account-recovery'] button")
        assert await browser.text_of(".notice") == unknown  # the same answer for both

        [mail] = await wait_for_mail(  # the one asked for here (other tests may ask too)
            services.config.maildir,
            lambda m: alices_link(m) and m["Message-ID"] not in earlier,
            timeout=DEADLINE,
        )
        link = LINK.search(_text(mail))
        assert link is not None
        await browser.open(link.group(0))
        assert "selfie" in await browser.text_of("ul.documents")
        await browser.type("#description", "My phone with the authenticator app was stolen.")
        await browser.attach("#attachments", photo)
        await browser.screenshot(SCREENSHOTS / "account-recovery.png", full_page=True)
        await browser.click("form[enctype='multipart/form-data'] button")
        received = await browser.text_of("h1", containing="Request ")
        ticket_id = received.removeprefix("Request ").strip()
        await browser.open(link.group(0))  # once only
        assert "used already" in await browser.text_of("[role=alert]")

    async def filed() -> dict[str, Any] | None:
        return await agent_view(services, ticket_id)

    view = await wait_until(filed, timeout=DEADLINE, what="the recovery request")
    assert view["account_id"] == "acc-1001"
    assert view["category"] == "disable-2fa"
    assert len(view["attachments"]) == 1


async def test_the_router_down_the_page_and_the_api_still_take_requests(
    services: EmbeddedStack, browser_binaries: tuple[Path, Path]
) -> None:
    await services.stop_process("router")
    try:
        async with signed_in(services, browser_binaries, "acc-1002") as browser:
            await browser.select("#category", "cards")
            await browser.type("#subject", "Card not here")
            await browser.type("#description", "My card was ordered a month ago and is not here.")
            await browser.click("#request-form button[type=submit]")
            assert await submitted_ticket(browser)
        async with httpx.AsyncClient(base_url=services.config.url("intake"), timeout=10) as api:
            suggestion = await api.post(
                "/v1/tickets/suggestions",
                headers=bearer("acc-1002"),
                json={"subject": "Card", "description": "My card has not arrived yet"},
            )
            assert suggestion.json()["available"] is False
            accepted = await api.post(
                "/v1/tickets",
                headers=bearer("acc-1002"),
                json={"category": "cards", "subject": "Card", "description": "Not arrived yet."},
            )
            assert accepted.status_code == 202
    finally:
        await services.start_service("router")


def _text(mail: Any) -> str:
    body = mail.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body else ""
