"""The development documentation of the four services, as real processes: each service's
AsyncAPI document lists exactly the topics it consumes and publishes, nothing publishes to
Kafka over HTTP, and /docs (Swagger UI) and /asyncapi (the AsyncAPI viewer) render in headless
Chromium with the network closed beyond 127.0.0.1, loading nothing from anywhere else and
breaking none of their Content-Security-Policy.

Screenshots go to .data/screenshots/ on every run (git-ignored); with UPDATE_SCREENSHOTS=1 they
are also copied to docs/images/, where the README shows them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devstack.stack import EmbeddedStack
from devstack.webdriver import CLOSED_NETWORK, Browser, WebDriverError
from shared.contracts.catalog import load_catalog
from shared.contracts.topics import Topics
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "router", "notifier", "history")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / ".data" / "screenshots"
README_IMAGES = ROOT / "docs" / "images"
RENDER_TIMEOUT = 20.0


def expected_operations(service: str, topics: Topics) -> dict[str, set[str]]:
    """{action: topics} the service's AsyncAPI document must list: `receive` what it
    consumes, `send` what it publishes (a consumer's dead-letter topics included)."""
    dlq = Topics.dlq
    events = (topics.submitted, topics.routed, topics.activity)
    return {
        # Intake consumes the routing decisions to place each request with its team, and the
        # automations due (tickets.sla) to apply them.
        "intake": {
            "receive": {topics.routed, topics.sla},
            "send": {
                topics.submitted,
                topics.activity,
                topics.recovery,
                dlq(topics.routed),
                dlq(topics.sla),
            },
        },
        # The router consumes transfers from the activity topic as well as new requests.
        "router": {
            "receive": {topics.submitted, topics.activity},
            "send": {
                topics.routed,
                dlq(topics.submitted),
                dlq(topics.activity),
                *(topics.team(team) for team in load_catalog().teams),
            },
        },
        "notifier": {
            "receive": {*events, topics.recovery},
            "send": {topics.notifications, *(dlq(t) for t in (*events, topics.recovery))},
        },
        "history": {
            "receive": set(topics.event_topics()),
            "send": {dlq(t) for t in topics.event_topics()},
        },
    }[service]


def listed_operations(document: dict[str, Any]) -> dict[str, set[str]]:
    """{action: channel addresses} of an AsyncAPI 3 document's operations."""
    channels = document["channels"]
    listed: dict[str, set[str]] = {"receive": set(), "send": set()}
    for operation in document["operations"].values():
        reference = operation["channel"]["$ref"]
        assert reference.startswith("#/channels/"), reference
        channel = channels[reference.removeprefix("#/channels/")]
        listed[operation["action"]].add(channel["address"])
    return listed


@pytest.mark.parametrize("service", SERVICES)
async def test_the_asyncapi_document_lists_every_topic(
    services: EmbeddedStack, service: str
) -> None:
    expected = expected_operations(service, Topics(services.config.topic_prefix))
    async with httpx.AsyncClient(base_url=services.config.url(service), timeout=10) as client:
        response = await client.get("/asyncapi.json")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        document = response.json()
        assert document["asyncapi"].startswith("3.")
        assert document["info"]["title"].startswith("Help Centre")
        assert listed_operations(document) == expected
        addresses = {channel["address"] for channel in document["channels"].values()}
        assert addresses == expected["receive"] | expected["send"]  # no channel unused

        as_yaml = await client.get("/asyncapi.yaml")
        assert as_yaml.status_code == 200
        assert as_yaml.headers["content-type"].startswith("application/yaml")
        assert yaml.safe_load(as_yaml.text) == document

        # FastStream's own AsyncAPI page would add this: anyone publishing anything to Kafka
        tried = await client.post(
            "/asyncapi/try", json={"channelName": sorted(expected["send"])[0], "message": {}}
        )
        assert tried.status_code in (404, 405), tried.text


@pytest.mark.parametrize("service", SERVICES)
async def test_the_pages_carry_their_security_headers(
    services: EmbeddedStack, service: str
) -> None:
    async with httpx.AsyncClient(base_url=services.config.url(service), timeout=10) as client:
        for path in ("/docs", "/asyncapi"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert page.headers["x-content-type-options"] == "nosniff"
            policy = dict(
                directive.strip().split(" ", 1)
                for directive in page.headers["content-security-policy"].split(";")
            )
            assert policy["default-src"] == "'none'"
            assert policy["frame-ancestors"] == "'none'"
            for directive in ("style-src", "connect-src"):
                assert policy[directive] == "'self'", (path, directive)
            assert "unsafe" not in page.headers["content-security-policy"]
            assert "http" not in page.headers["content-security-policy"]
            assert "cdn" not in page.text
            assert "unpkg" not in page.text
        # only Swagger's one inline script, by its hash, and its data: SVG icons
        docs = (await client.get("/docs")).headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in docs
        assert "img-src 'self' data:;" in docs
        asyncapi = (await client.get("/asyncapi")).headers["content-security-policy"]
        assert "script-src 'self';" in asyncapi
        assert "img-src 'self';" in asyncapi
        for asset in (
            "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css",
            "/asyncapi/assets/asyncapi-viewer.js",
            "/asyncapi/assets/asyncapi-theme.css",
        ):
            served = await client.get(asset)
            assert served.status_code == 200, asset
            assert served.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/docs/assets/redoc.standalone.js")).status_code == 404


# --- in a browser, on a closed network ------------------------------------------------------


@pytest.fixture(scope="module")
async def offline_browser(browser_binaries: tuple[Path, Path]) -> AsyncIterator[Browser]:
    async with Browser.start(*browser_binaries, extra_args=CLOSED_NETWORK) as browser:
        yield browser


async def test_the_browser_reaches_nothing_beyond_localhost(offline_browser: Browser) -> None:
    # Where FastStream's and FastAPI's pages load their scripts from: closed here.
    for url in ("https://unpkg.com/", "https://cdn.jsdelivr.net/"):
        with pytest.raises(WebDriverError, match=r"net::ERR_"):
            await offline_browser.open(url)


async def open_and_check(browser: Browser, base: str, path: str) -> None:
    """Open the page with a clean console (chromedriver hands out each entry once)."""
    await browser.console()
    await browser.open(base + path)
    assert (await browser.script("return location.href")).startswith(base + path)


async def only_local(browser: Browser, base: str, *must_load: str) -> None:
    """Every resource the page loaded came from the service, and the console stayed clean:
    a Content-Security-Policy violation or a failed load would show there."""
    loaded: list[str] = await browser.script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded
    assert [url for url in loaded if not url.startswith(base + "/")] == []
    assert {base + path for path in must_load} <= set(loaded)
    assert [entry["message"] for entry in await browser.console()] == []


async def screenshot(browser: Browser, name: str) -> None:
    path = SCREENSHOTS / name
    await browser.screenshot(path)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_IMAGES / name)


@pytest.mark.parametrize("service", ["intake", "history"])
async def test_swagger_ui_renders_offline(
    services: EmbeddedStack, offline_browser: Browser, service: str
) -> None:
    base = services.config.url(service)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        schema = (await client.get("/openapi.json")).raise_for_status().json()
    # Swagger draws an operation once under each of its tags.
    operations = sum(
        max(1, len(operation.get("tags", ())))
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    )
    await open_and_check(offline_browser, base, "/docs")

    async def rendered() -> int | None:
        count = len(await offline_browser.find_all(".opblock"))
        return count or None

    assert await wait_until(rendered, timeout=RENDER_TIMEOUT, what="Swagger's operations") > 0
    assert len(await offline_browser.find_all(".opblock")) == operations
    assert "Help Centre" in await offline_browser.text_of(".info .title")
    await only_local(
        offline_browser,
        base,
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/openapi.json",
    )
    if service == "intake":
        await screenshot(offline_browser, "api-docs.png")


@pytest.mark.parametrize("service", SERVICES)
async def test_the_asyncapi_page_renders_offline(
    services: EmbeddedStack, offline_browser: Browser, service: str
) -> None:
    base = services.config.url(service)
    expected = expected_operations(service, Topics(services.config.topic_prefix))
    topics = expected["receive"] | expected["send"]
    await open_and_check(offline_browser, base, "/asyncapi")

    async def rendered() -> str | None:
        # The viewer draws into its own shadow root, once it has fetched /asyncapi.json.
        text: str | None = await offline_browser.script(
            "const viewer = document.querySelector('asyncapi-viewer');"
            "return viewer && viewer.shadowRoot ? viewer.shadowRoot.textContent : null"
        )
        return text if text and all(topic in text for topic in topics) else None

    text = await wait_until(rendered, timeout=RENDER_TIMEOUT, what="the AsyncAPI operations")
    assert "Help Centre" in text
    if expected["send"]:
        assert "SEND" in text.upper()
    if expected["receive"]:
        assert "RECEIVE" in text.upper()
    await only_local(
        offline_browser,
        base,
        "/asyncapi/assets/asyncapi-viewer.js",
        "/asyncapi/assets/asyncapi-theme.css",
        "/asyncapi.json",
    )
    if service == "router":
        await screenshot(offline_browser, "asyncapi.png")
