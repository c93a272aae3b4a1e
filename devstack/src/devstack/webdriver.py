"""Just enough of the W3C WebDriver protocol (plain HTTP + JSON) to drive the system's
Chromium through its matching chromedriver (Debian's `chromium` and `chromium-driver`).

Why not Playwright or Selenium: a uv workspace installs the root's dev group only, so a
test-only package declared by a service would have to become a runtime dependency of its
image. WebDriver is a W3C standard and chromedriver speaks it natively; httpx is already a
dependency of devstack, where this lives so that every test can drive a browser.

`Browser.start(..., extra_args=CLOSED_NETWORK)` keeps Chromium off every host but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from devstack.stack import free_port
from shared.waiting import wait_until

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
]
# Nothing but 127.0.0.1: every other name resolves to nothing, and whatever would still go
# out is sent to a proxy on the discard port, where nothing answers.
CLOSED_NETWORK = (
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
)


def browser_paths() -> tuple[Path, Path]:
    return (
        Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")),
        Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
    )


class WebDriverError(RuntimeError):
    pass


class Browser:
    def __init__(self, client: httpx.AsyncClient, session_id: str) -> None:
        self._client = client
        self._session = f"/session/{session_id}"

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        chromium: Path,
        chromedriver: Path,
        *,
        extra_args: Sequence[str] = (),
        javascript: bool = True,
        language: str | None = None,
    ) -> AsyncIterator[Browser]:
        """`javascript=False`: a browser with script switched off (Chromium's content
        setting), to prove a page works without it; `language`: its Accept-Language."""
        port = free_port()
        driver = await asyncio.create_subprocess_exec(
            str(chromedriver),
            f"--port={port}",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

                async def ready() -> bool:
                    status = await client.get("/status")
                    return bool(status.json()["value"]["ready"])

                await wait_until(ready, timeout=20, what="chromedriver", interval=0.1)
                created = await client.post(
                    "/session",
                    json={
                        "capabilities": {
                            "alwaysMatch": {
                                "browserName": "chrome",
                                "goog:loggingPrefs": {"browser": "ALL"},  # for console()
                                "goog:chromeOptions": {
                                    "binary": str(chromium),
                                    "args": [
                                        *CHROMIUM_ARGS,
                                        *([f"--lang={language}"] if language else []),
                                        *extra_args,
                                    ],
                                    "prefs": _preferences(javascript, language),
                                },
                            }
                        }
                    },
                )
                session_id = _value(created)["sessionId"]
                try:
                    yield cls(client, session_id)
                finally:
                    await client.delete(f"/session/{session_id}")
        finally:
            if driver.returncode is None:
                driver.terminate()
            try:
                await asyncio.wait_for(driver.wait(), 10)
            except TimeoutError:
                driver.kill()
                await driver.wait()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._client.request(method, self._session + path, json=body)
        return _value(response)

    async def open(self, url: str) -> None:
        await self._call("POST", "/url", {"url": url})

    async def title(self) -> str:
        title: str = await self._call("GET", "/title")
        return title

    async def find_all(self, css: str) -> list[str]:
        found = await self._call("POST", "/elements", {"using": "css selector", "value": css})
        return [element[ELEMENT] for element in found]

    async def find(self, css: str) -> str:
        """The element, waiting a little for it (a form post may still be loading)."""

        async def probe() -> str | None:
            elements = await self.find_all(css)
            return elements[0] if elements else None

        return await wait_until(probe, timeout=10, what=f"an element {css!r}", interval=0.1)

    async def text(self, element: str) -> str:
        text: str = await self._call("GET", f"/element/{element}/text")
        return text

    async def text_of(self, css: str, *, containing: str | None = None) -> str:
        """The text of the first element `css` finds, once it contains `containing` (if
        given). Found anew on each try: after a click the old page's element goes stale
        while the next page loads."""

        async def probe() -> list[str] | None:
            elements = await self.find_all(css)
            if not elements:
                return None
            text = await self.text(elements[0])
            return [text] if containing is None or containing in text else None

        what = f"{css!r}" + (f" containing {containing!r}" if containing else "")
        [text] = await wait_until(probe, timeout=10, what=what, interval=0.1)
        return text

    async def type(self, css: str, text: str) -> None:
        element = await self.find(css)
        await self._call("POST", f"/element/{element}/clear", {})
        await self._call("POST", f"/element/{element}/value", {"text": text})

    async def attach(self, css: str, *paths: Path) -> None:
        """Choose files in a file input, as the customer's file dialog would."""
        element = await self.find(css)
        text = "\n".join(str(p.resolve()) for p in paths)
        await self._call("POST", f"/element/{element}/value", {"text": text})

    async def select(self, css: str, value: str) -> None:
        await self.click(f"{css} option[value='{value}']")

    async def value_of(self, css: str) -> str:
        value: str = await self._call("GET", f"/element/{await self.find(css)}/property/value")
        return value

    async def url(self) -> str:
        url: str = await self._call("GET", "/url")
        return url

    async def click(self, css: str) -> None:
        async def clicked() -> bool:  # found anew if the page changed under it
            await self._call("POST", f"/element/{await self.find(css)}/click", {})
            return True

        await wait_until(clicked, timeout=10, what=f"a click on {css!r}", interval=0.1)

    async def script(self, source: str) -> Any:
        return await self._call("POST", "/execute/sync", {"script": source, "args": []})

    async def console(self) -> list[dict[str, Any]]:
        """The browser console's entries since the last call (level, message, timestamp):
        failed loads and Content-Security-Policy violations show up here. chromedriver's own
        endpoint, not W3C."""
        entries: list[dict[str, Any]] = await self._call("POST", "/se/log", {"type": "browser"})
        return entries

    async def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        if full_page:  # chromedriver shoots the viewport: grow it to the page first
            height = await self.script("return document.documentElement.scrollHeight")
            await self._call("POST", "/window/rect", {"width": 1280, "height": int(height) + 120})
        png = base64.b64decode(await self._call("GET", "/screenshot"))
        await asyncio.to_thread(_write, path, png)


def _preferences(javascript: bool, language: str | None) -> dict[str, Any]:
    preferences: dict[str, Any] = {}
    if not javascript:
        preferences["profile.managed_default_content_settings.javascript"] = 2  # block
    if language:
        preferences["intl.accept_languages"] = language
    return preferences


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _value(response: httpx.Response) -> Any:
    value = response.json().get("value")
    if response.is_error:
        error = value or {}
        raise WebDriverError(f"{error.get('error')}: {error.get('message', '')[:500]}")
    return value
