"""The HTTP surface (JSON API and HTML page) in process, over a real MongoDB wire protocol:
who may read what, filters and pages, the dashboard's view, the page's sign-in cookie."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote
from uuid import uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.stack import EmbeddedStack
from devstack.testing import bearer
from history.adapters.mongo import MongoRequestRepository
from history.app import build
from history.pages.session import SESSION_COOKIE
from history.service import HistoryService
from history.settings import HistorySettings
from shared.contracts.identity import Role
from shared.contracts.statuses import Status

from .test_history_store import request

pytestmark = pytest.mark.integration

ALICE, BOB = "acc-1001", "acc-1002"
BASE_URL = "http://history.test"
SECRET = "Xq7-secret"  # in every subject (descriptions and bodies say "secret" too)


@dataclass(frozen=True)
class Site:
    client: httpx.AsyncClient  # authenticates per request, with headers
    transport: httpx.ASGITransport
    alice: list[str]  # ticket ids, oldest first
    bob: str

    def browser(self) -> httpx.AsyncClient:
        """A client of its own, whose cookie jar plays the browser's."""
        return httpx.AsyncClient(transport=self.transport, base_url=BASE_URL)


@pytest.fixture(scope="module")
async def site(infra: EmbeddedStack) -> AsyncIterator[Site]:
    settings = HistorySettings(
        mongo_url=infra.config.mongo_url,
        database="history_api_test",
        collection=f"requests_{uuid4().hex[:8]}",
        page_size=2,
    )
    app = build(settings).http
    service: HistoryService = app.state.history_service
    repository = service.repository
    assert isinstance(repository, MongoRequestRepository)
    await repository.ensure_indexes()
    alice = [
        request(ALICE, timedelta(0), f"{SECRET} Withdrawal (BTC) stuck", route_after=timedelta(1)),
        request(ALICE, timedelta(1), f"{SECRET} Card not arrived", status=Status.SOLVED),
        request(
            ALICE, timedelta(2), f"{SECRET} <script>alert(1)</script>", reply_after=timedelta(3)
        ),
    ]
    bob = request(BOB, timedelta(3), f"{SECRET} Bob's own withdrawal", route_after=timedelta(1))
    await service.apply_events([e for r in [*alice, bob] for e in r])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Site(client, transport, [r[0].ticket_id for r in alice], bob[0].ticket_id)
    await repository.collection.drop()
    await repository.collection.database.client.close()


def token(account_id: str, role: Role = Role.CUSTOMER) -> str:
    return bearer(account_id, role)["Authorization"].removeprefix("Bearer ")


# -- who may read what ----------------------------------------------------------------------


async def test_every_endpoint_needs_a_valid_token(site: Site) -> None:
    for path in ("/v1/accounts/me/activities", f"/v1/tickets/{site.bob}", "/v1/stats"):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await site.client.get(path, headers=headers)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.headers["content-type"] == "application/problem+json"
    for path in ("/my-activities", f"/my-activities/{site.bob}"):
        page = await site.client.get(path)
        assert page.status_code == 401
        assert 'action="/my-activities/session"' in page.text
        assert SECRET not in page.text


async def test_a_customer_never_reads_another_accounts_request(site: Site) -> None:
    as_bob = bearer(BOB)
    listed = await site.client.get("/v1/accounts/me/activities", headers=as_bob)
    assert [i["ticket_id"] for i in listed.json()["items"]] == [site.bob]
    searched = await site.client.get(
        "/v1/accounts/me/activities", params={"q": "Card not arrived"}, headers=as_bob
    )
    assert searched.json()["items"] == []
    for ticket_id in site.alice:
        detail = await site.client.get(f"/v1/tickets/{ticket_id}", headers=as_bob)
        assert detail.status_code == 404  # as if it did not exist
        assert SECRET not in detail.text
        page = await site.client.get(f"/my-activities/{ticket_id}", headers=as_bob)
        assert page.status_code == 404
        assert SECRET not in page.text
    own_page = await site.client.get("/my-activities", headers=as_bob)
    assert site.bob in own_page.text
    assert all(t not in own_page.text for t in site.alice)
    # the owner reads their own
    mine = await site.client.get(f"/v1/tickets/{site.alice[0]}", headers=bearer(ALICE))
    assert mine.status_code == 200
    assert mine.json()["timeline"][0]["kind"] == "submitted"


async def test_an_agent_reads_any_request_but_no_list_and_no_stats(site: Site) -> None:
    as_agent = bearer("agent-7", Role.AGENT)
    for ticket_id in [*site.alice, site.bob]:
        detail = await site.client.get(f"/v1/tickets/{ticket_id}", headers=as_agent)
        assert detail.status_code == 200
        page = await site.client.get(f"/my-activities/{ticket_id}", headers=as_agent)
        assert page.status_code == 200
    assert (
        await site.client.get("/v1/accounts/me/activities", headers=as_agent)
    ).status_code == 403
    assert (await site.client.get("/v1/stats", headers=as_agent)).status_code == 403
    assert (await site.client.get("/my-activities", headers=as_agent)).status_code == 403


async def test_a_dashboard_sees_stats_only_and_never_request_text(site: Site) -> None:
    as_dashboard = bearer("dash-1", Role.DASHBOARD)
    for path in (
        "/v1/accounts/me/activities",
        f"/v1/tickets/{site.bob}",
        "/my-activities",
        f"/my-activities/{site.bob}",
    ):
        response = await site.client.get(path, headers=as_dashboard)
        assert response.status_code == 403, path
        assert SECRET not in response.text
    stats = await site.client.get(
        "/v1/stats",
        params={"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
        headers=as_dashboard,
    )
    assert stats.status_code == 200
    body = stats.json()
    assert body["requests"] == 4
    assert body["routed"] == 2
    assert "secret" not in stats.text.lower()  # no subject, description or reply body
    assert not {"subject", "description", "body", "timeline", "account_id"} & set(
        re.findall(r'"(\w+)":', stats.text)
    )
    # every customer or agent token is refused
    for role in (Role.CUSTOMER, Role.AGENT):
        refused = await site.client.get("/v1/stats", headers=bearer(ALICE, role))
        assert refused.status_code == 403


# -- the list API ---------------------------------------------------------------------------


async def test_list_filters_sorts_and_pages(site: Site) -> None:
    as_alice = bearer(ALICE)
    oldest, solved, newest = site.alice

    async def ids(**params: str | int | list[str]) -> list[str]:
        response = await site.client.get(
            "/v1/accounts/me/activities", params=params, headers=as_alice
        )
        assert response.status_code == 200, response.text
        return [i["ticket_id"] for i in response.json()["items"]]

    assert await ids() == [newest, solved, oldest]
    assert await ids(sort="created", order="asc") == [oldest, solved, newest]
    assert await ids(status="solved") == [solved]
    assert await ids(status=["new", "open"]) == [newest, oldest]
    assert await ids(public_status="Solved") == [solved]
    assert await ids(public_status="open", status="solved") == []
    assert await ids(q="withdrawal (btc)") == [oldest]
    assert await ids(q="<SCRIPT>") == [newest]

    first = await site.client.get(
        "/v1/accounts/me/activities", params={"limit": 2}, headers=as_alice
    )
    page = first.json()
    assert [i["ticket_id"] for i in page["items"]] == [newest, solved]
    assert page["items"][1]["public_status"] == "Solved"
    second = await site.client.get(
        "/v1/accounts/me/activities",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=as_alice,
    )
    assert [i["ticket_id"] for i in second.json()["items"]] == [oldest]
    assert second.json()["next_cursor"] is None

    for params in (
        {"cursor": "bm90LW91cnM"},
        {"cursor": page["next_cursor"], "order": "asc"},  # another order's cursor
        {"public_status": "Waiting"},
        {"status": "lost"},
        {"limit": 0},
    ):
        refused = await site.client.get(
            "/v1/accounts/me/activities", params=params, headers=as_alice
        )
        assert refused.status_code == 422, params
        assert refused.headers["content-type"] == "application/problem+json"


async def test_stats_window_is_validated(site: Site) -> None:
    as_dashboard = bearer("dash-1", Role.DASHBOARD)
    default = await site.client.get("/v1/stats", headers=as_dashboard)
    assert default.status_code == 200
    window = default.json()
    assert window["window_to"] > window["window_from"]  # the last 7 days
    for params in ({"from": "2026-11-02", "to": "2026-11-01"}, {"from": "2020-01-01"}):
        assert (
            await site.client.get("/v1/stats", params=params, headers=as_dashboard)
        ).status_code == 422


# -- the page -------------------------------------------------------------------------------


async def csrf_of(browser: httpx.AsyncClient, path: str = "/my-activities") -> str:
    """The CSRF token a page puts in its forms, for this browser (its cookie jar)."""
    page = await browser.get(path)
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert found is not None, page.text
    return found.group(1)


SAME_SITE = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}


async def test_sign_in_sets_a_strict_http_only_cookie_the_page_accepts(site: Site) -> None:
    async with site.browser() as browser:
        signed_in = await browser.post(
            "/my-activities/session",
            data={
                "token": token(ALICE),
                "next": f"/my-activities/{site.alice[0]}",
                "csrf_token": await csrf_of(browser),
            },
            headers=SAME_SITE,
        )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == f"/my-activities/{site.alice[0]}"
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/;" in cookie  # every page: My activities, Submit a request
        assert "Secure" not in cookie  # development serves http; production sets it
        page = await browser.get(signed_in.headers["location"])
        assert page.status_code == 200
        assert "Withdrawal (BTC) stuck" in page.text
        assert 'action="/my-activities/session/end"' in page.text  # sign out offered
        # the cookie opens the pages only: the JSON API wants the header
        api = await browser.get("/v1/accounts/me/activities")
        assert api.status_code == 401

        forged = await browser.post("/my-activities/session/end", headers=SAME_SITE)
        assert forged.status_code == 403  # no CSRF token: not our page's form
        signed_out = await browser.post(
            "/my-activities/session/end",
            data={"csrf_token": await csrf_of(browser)},
            headers=SAME_SITE,
        )
        assert signed_out.status_code == 303
        assert "Max-Age=0" in signed_out.headers["set-cookie"]
        assert (await browser.get("/my-activities")).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
        {},  # no CSRF token at all
    ],
)
async def test_sign_in_refuses_cross_site_forms(site: Site, headers: dict[str, str]) -> None:
    async with site.browser() as browser:
        csrf = await csrf_of(browser) if headers else ""
        response = await browser.post(
            "/my-activities/session",
            data={"token": token(ALICE), "csrf_token": csrf},
            headers=headers,
        )
        assert response.status_code == 403
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_another_browsers_csrf_token_is_refused(site: Site) -> None:
    async with site.browser() as victim, site.browser() as attacker:
        attackers_token = await csrf_of(attacker)
        await csrf_of(victim)  # the victim has a CSRF cookie of its own
        response = await victim.post(
            "/my-activities/session",
            data={"token": token(ALICE), "csrf_token": attackers_token},
            headers=SAME_SITE,
        )
        assert response.status_code == 403


async def test_sign_in_refuses_bad_tokens_dashboards_and_foreign_redirects(site: Site) -> None:
    async with site.browser() as browser:

        async def sign_in(**fields: str) -> httpx.Response:
            data = fields | {"csrf_token": await csrf_of(browser)}
            return await browser.post("/my-activities/session", data=data, headers=SAME_SITE)

        bad = await sign_in(token="nope")
        assert bad.status_code == 401
        assert "not valid" in bad.text
        assert SESSION_COOKIE not in bad.headers.get("set-cookie", "")
        dashboard = await sign_in(token=token("dash-1", Role.DASHBOARD))
        assert dashboard.status_code == 401
        for target in ("https://evil.example/", "//evil.example", "/my-activities/../v1/stats"):
            redirected = await sign_in(token=token(ALICE), next=target)
            assert redirected.headers["location"] == "/my-activities"
        browser.cookies.clear()
    async with site.browser() as browser:
        browser.cookies.set(SESSION_COOKIE, "stale", domain="history.test", path="/")
        expired = await browser.get("/my-activities")
        assert expired.status_code == 401
        assert "expired" in expired.text


async def test_page_is_accessible_escaped_and_locked_down(site: Site) -> None:
    page = await site.client.get("/my-activities", headers=bearer(ALICE))
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html
    assert "<h1>My activities</h1>" in html
    assert "<caption>Your requests</caption>" in html
    assert html.count('<th scope="col">') == 5
    assert '<th scope="row">' in html
    assert '<label for="q">' in html
    assert '<label for="status">' in html
    assert "<script>" not in html  # the subject is shown, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Solved" in html
    headers = page.headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    css = await site.client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_page_filters_searches_and_pages_through_a_get_form(site: Site) -> None:
    as_alice = bearer(ALICE)
    oldest, solved, newest = site.alice
    first = await site.client.get("/my-activities", headers=as_alice)  # 2 per page
    assert newest in first.text
    assert solved in first.text
    assert oldest not in first.text
    next_url = re.search(r'href="(/my-activities\?[^"]+)" rel="next"', first.text)
    assert next_url is not None
    second = await site.client.get(next_url.group(1).replace("&amp;", "&"), headers=as_alice)
    assert oldest in second.text
    assert newest not in second.text
    assert "First page" in second.text

    solved_only = await site.client.get(
        "/my-activities", params={"status": "Solved"}, headers=as_alice
    )
    assert solved in solved_only.text
    assert newest not in solved_only.text
    assert '<option value="Solved" selected>' in solved_only.text
    searched = await site.client.get(
        "/my-activities", params={"q": "btc", "sort": "oldest"}, headers=as_alice
    )
    assert oldest in searched.text
    assert solved not in searched.text
    assert 'value="btc"' in searched.text
    nothing = await site.client.get("/my-activities", params={"q": "zzz"}, headers=as_alice)
    assert "No request matches" in nothing.text
    unknown = await site.client.get("/my-activities", params={"status": "x"}, headers=as_alice)
    assert unknown.status_code == 422
    assert 'role="alert"' in unknown.text


async def test_request_page_shows_the_timeline(site: Site) -> None:
    page = await site.client.get(f"/my-activities/{site.alice[2]}", headers=bearer(ALICE))
    assert page.status_code == 200
    assert f"<h1>Request {site.alice[2]}</h1>" in page.text
    assert "<h2>Conversation</h2>" in page.text
    assert "You submitted the request" in page.text
    assert "Support replied" in page.text
    assert "secret reply" in page.text  # the agent's reply, for its owner
    missing = await site.client.get("/my-activities/AAAA-AAAA-AAAA", headers=bearer(ALICE))
    assert missing.status_code == 404
    malformed = await site.client.get("/my-activities/session", headers=bearer(ALICE))
    assert malformed.status_code == 404


# -- team queues ----------------------------------------------------------------------------


async def test_a_team_queue_is_for_agents_of_any_team(site: Site) -> None:
    path = "/v1/teams/withdrawals-transfers/queue"
    for headers in (bearer(ALICE), bearer("dash-1", Role.DASHBOARD)):
        refused = await site.client.get(path, headers=headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert SECRET not in refused.text
    assert (await site.client.get(path)).status_code == 401
    # Any agent reads any team's queue (a triage agent reads them all): documented design.
    for agent in ("agent-1", "agent-3", "agent-7"):
        queue = await site.client.get(path, headers=bearer(agent, Role.AGENT))
        assert queue.status_code == 200, queue.text
        assert queue.json()["team"] == "withdrawals-transfers"
    assert {i["ticket_id"] for i in queue.json()["items"]} >= {site.alice[0], site.bob}


async def test_a_queue_refuses_what_it_cannot_answer(site: Site) -> None:
    as_agent = bearer("agent-1", Role.AGENT)
    unknown = await site.client.get("/v1/teams/nowhere/queue", headers=as_agent)
    assert unknown.status_code == 404
    base = "/v1/teams/cards/queue"
    for params, field in (
        ({"status": ["open", "pending"]}, "query.status"),
        ({"status": "solved"}, "query.status"),
        ({"assignee": "agent-1", "unassigned": "true"}, "query.unassigned"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "query.cursor"),
        ({"priority": "critical"}, None),
        ({"limit": "0"}, None),
        ({"assignee": "../x"}, None),
    ):
        bad = await site.client.get(base, params=params, headers=as_agent)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"
        if field:
            assert bad.json()["invalid-params"][0]["name"] == field


@given(
    team=st.sampled_from(["cards", "withdrawals-transfers", "x"]) | st.text(max_size=80),
    params=st.dictionaries(
        st.sampled_from(["status", "priority", "assignee", "unassigned", "limit", "cursor", "z"]),
        st.text(max_size=120) | st.sampled_from(["open", "pending", "urgent", "true", "5"]),
        max_size=6,
    ),
)
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_no_queue_request_gets_a_5xx(history_url: str, team: str, params: dict[str, str]) -> None:
    with httpx.Client(base_url=history_url, timeout=20) as client:
        response = client.get(
            f"/v1/teams/{quote(team, safe='')}/queue",
            params=params,
            headers=bearer("agent-1", Role.AGENT),
        )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def history_url(services: EmbeddedStack) -> str:
    """The history service as a real process (the session's), for the fuzz's plain client."""
    return services.config.url("history")
