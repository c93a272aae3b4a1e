"""The dashboard's charts (history.pages.charts: inline SVG from numbers) and its page in
process on an in-memory store: a bar per value, heights proportional, labels escaped, zero,
None and nothing drawn sanely; the page shows every figure of Stats — the SLA and
backlog-by-age lists full and empty — to the dashboard role only, with the pages' CSP and no
style attribute, and says what is wrong with a bad window."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from markupsafe import Markup

from devstack.testing import bearer
from history.domain.stats import (
    BacklogAge,
    Durations,
    SlaAttainment,
    Stats,
    StatsWindow,
    TeamBacklog,
    TeamRoute,
    TeamStatusCount,
    Transfers,
)
from history.pages import router as page_router
from history.pages.charts import (
    NO_VALUE,
    Bar,
    Column,
    Target,
    column_chart,
    duration,
    share_bar,
    stacked_chart,
)
from history.pages.dashboard import (
    backlog_ages,
    first_reply_targets,
    parse_moment,
    picker_value,
    volume_by_team,
)
from history.pages.rendering import CSP
from history.service import HistoryService
from history.settings import HistorySettings
from shared.contracts.events import Priority, SlaMetric
from shared.contracts.identity import Role
from shared.contracts.statuses import Status
from shared.tokens import TokenVerifier

from .history_fakes import FakeRequestRepository

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"
BASE_URL = "http://history.test"
SAME_SITE = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}


def parsed(markup: Markup) -> ET.Element:
    """The chart as XML: it must be well-formed (escaped) to parse at all."""
    return ET.fromstring(str(markup))  # noqa: S314 - our own output, not untrusted input


def bars_of(svg: ET.Element, css_class: str = "bar") -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if css_class in (r.get("class") or "").split(" ")]


def height(rect: ET.Element) -> float:
    return float(rect.get("height") or "nan")


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


# -- column_chart ------------------------------------------------------------------------------


def test_a_column_per_value_its_height_proportional() -> None:
    values = [2, 4, 8, 1]
    svg = parsed(
        column_chart(
            [Bar(f"team-{v}", v) for v in values], ident="c", title="Requests", plot_height=160
        )
    )
    rects = bars_of(svg)
    assert len(rects) == len(values)
    assert [height(r) for r in rects] == pytest.approx([v / 8 * 160 for v in values])
    bottoms = {float(r.get("y") or 0) + height(r) for r in rects}
    assert len(bottoms) == 1  # on one baseline
    assert [r.findtext(f"{SVG}title") for r in rects] == [f"team-{v}: {v}" for v in values]
    assert {"2", "4", "8", "1"} <= set(texts(svg))  # the figures written, not only drawn


def test_the_chart_is_an_image_named_by_its_title_and_description() -> None:
    svg = parsed(column_chart([Bar("a", 1)], ident="volume", title="By team", description="D"))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "volume-title volume-desc"
    assert svg.findtext(f"{SVG}title") == "By team"
    assert svg.findtext(f"{SVG}desc") == "D"
    assert "style" not in str(column_chart([Bar("a", 1)], ident="v", title="t"))


def test_labels_and_titles_are_escaped() -> None:
    hostile = "<script>alert(\"x\")</script> & 'quotes'"
    markup = column_chart(
        [Bar(hostile, 3, text="<b>3</b>")],
        ident="x",
        title=hostile,
        description=hostile,
        targets=[Target(hostile, 2)],
    )
    assert "<script>" not in markup
    assert "<b>" not in markup
    svg = parsed(markup)
    assert svg.findtext(f"{SVG}title") == hostile
    [rect] = bars_of(svg)
    assert rect.findtext(f"{SVG}title") == f"{hostile}: <b>3</b>"
    assert "<b>3</b>" in texts(svg)


def test_zero_none_and_odd_values() -> None:
    svg = parsed(
        column_chart(
            [Bar("zero", 0), Bar("none", None), Bar("nan", math.nan), Bar("neg", -5)],
            ident="z",
            title="t",
        )
    )
    rects = bars_of(svg)
    assert [r.findtext(f"{SVG}title") for r in rects] == ["zero: 0", "neg: 0"]
    assert [height(r) for r in rects] == [0, 0]  # all zero: flat, no division by zero
    assert texts(svg).count(NO_VALUE) == 2  # the missing ones say so


def test_nothing_to_draw_says_so() -> None:
    svg = parsed(column_chart([], ident="e", title="Requests", empty="No requests"))
    assert bars_of(svg) == []
    assert "No requests" in texts(svg)
    svg = parsed(stacked_chart([], ["a"], ident="e2", title="Backlog", empty="Nothing waits"))
    assert bars_of(svg) == []
    assert "Nothing waits" in texts(svg)


def test_target_lines_share_the_bars_scale() -> None:
    svg = parsed(
        column_chart(
            [Bar("median", 1800), Bar("p90", 3600)],
            ident="t",
            title="t",
            targets=[Target("urgent", 7200), Target("none", math.inf)],
            plot_height=100,
        )
    )
    assert [height(r) for r in bars_of(svg)] == pytest.approx([25, 50])  # the top: 7200
    [target] = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "target"]  # inf: none
    drawn = target.find(f"{SVG}line")
    assert drawn is not None
    [axis] = [x for x in svg.iter(f"{SVG}line") if x.get("class") == "axis"]
    assert float(axis.get("y1") or 0) - float(drawn.get("y1") or 0) == pytest.approx(100)


def test_a_chart_id_must_be_a_plain_name() -> None:
    with pytest.raises(ValueError, match="chart id"):
        column_chart([Bar("a", 1)], ident='x" onload="alert(1)', title="t")


# -- stacked_chart and share_bar ---------------------------------------------------------------


def test_stacked_columns_proportional_to_their_parts() -> None:
    series = ["< 1 h", "1-4 h", "> 3 d"]
    svg = parsed(
        stacked_chart(
            [Column("cards", (1, 3, None)), Column("security", (0, 2, 2)), Column("x", ())],
            series,
            ident="s",
            title="Backlog by age",
            plot_height=120,
        )
    )
    segments = bars_of(svg)
    assert len(segments) == 5  # one per value given (None: none)
    assert [height(r) for r in segments] == pytest.approx([30, 90, 0, 60, 60])  # top: 4
    titles = [r.findtext(f"{SVG}title") for r in segments]
    assert titles[:2] == ["cards, < 1 h: 1", "cards, 1-4 h: 3"]
    assert titles[-1] == "security, > 3 d: 2"
    # Stacked: each segment starts where the one below ends.
    cards = segments[:2]
    assert float(cards[0].get("y") or 0) == pytest.approx(
        float(cards[1].get("y") or 0) + height(cards[1])
    )
    assert set(series) <= set(texts(svg))  # the legend
    assert {"4", "0"} <= set(texts(svg))  # the totals (the empty column's: 0)


def test_share_bar_fills_its_share_of_the_track() -> None:
    for fraction, filled in ((0.25, 30), (0, 0), (1.5, 120)):
        svg = parsed(share_bar(fraction, label="cards: 25% met"))
        [bar] = bars_of(svg)
        assert float(bar.get("width") or 0) == pytest.approx(filled)
        assert svg.get("aria-label") == "cards: 25% met"
    svg = parsed(share_bar(None, label="<none>"))
    assert bars_of(svg) == []
    assert len(bars_of(svg, "track")) == 1
    assert svg.get("aria-label") == "<none>"


def test_durations_read_as_people_read_them() -> None:
    assert [duration(s) for s in (None, 0, 0.3, 45, 600, 3600, 11_100, 86_400, 183_600)] == [
        NO_VALUE,
        "0 s",
        "< 1 s",
        "45 s",
        "10 min",
        "1 h",
        "3 h 5 min",
        "1 d",
        "2 d 3 h",
    ]


# -- the figures -------------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NONE = Durations(count=0, median_seconds=None, p90_seconds=None)


def sla(team: str, priority: Priority, metric: SlaMetric, met: int, breached: int) -> SlaAttainment:
    settled = met + breached
    return SlaAttainment(
        team=team,
        priority=priority,
        metric=metric,
        target_seconds=3600 if priority is Priority.URGENT else 8 * 3600,
        met=met,
        breached=breached,
        attainment=met / settled if settled else None,
        median_seconds=1500.0 if settled else None,
    )


def full_stats(window: StatsWindow) -> Stats:
    return Stats(
        window_from=window.start,
        window_to=window.end,
        requests=9,
        by_team_and_status=[
            TeamStatusCount(team="cards", status=Status.OPEN, count=2),
            TeamStatusCount(team="cards", status=Status.SOLVED, count=1),
            TeamStatusCount(team="withdrawals-transfers", status=Status.NEW, count=5),
            TeamStatusCount(team="unrouted", status=Status.NEW, count=1),
        ],
        routed=8,
        rerouted=2,
        reroute_rate=0.25,
        time_to_route=Durations(count=8, median_seconds=2.5, p90_seconds=4.0),
        time_to_first_reply=Durations(count=3, median_seconds=1800.0, p90_seconds=5400.0),
        backlog=[
            TeamBacklog(team="cards", count=2),
            TeamBacklog(team="withdrawals-transfers", count=5),
        ],
        transfers=Transfers(
            count=2,
            requests=2,
            share_of_routed=0.25,
            by_route=[TeamRoute(from_team="cards", to_team="withdrawals-transfers", count=2)],
            by_original_reason=[],
            time_lost=Durations(count=2, median_seconds=900.0, p90_seconds=1200.0),
            first_time_right_rate=0.5,
            time_to_first_reply_transferred=NONE,
            time_to_first_reply_not_transferred=NONE,
        ),
        sla=[
            sla("cards", Priority.NORMAL, SlaMetric.FIRST_REPLY, 3, 1),
            sla("cards", Priority.URGENT, SlaMetric.RESOLUTION, 0, 0),
            sla("withdrawals-transfers", Priority.URGENT, SlaMetric.FIRST_REPLY, 1, 3),
            sla("withdrawals-transfers", Priority.NORMAL, SlaMetric.FIRST_REPLY, 2, 0),
        ],
        backlog_by_age=[
            BacklogAge(team="cards", age="< 1 h", count=2),
            BacklogAge(team="withdrawals-transfers", age="1-3 d", count=4),
            BacklogAge(team="withdrawals-transfers", age="> 3 d", count=1),
        ],
    )


def empty_stats(window: StatsWindow) -> Stats:
    return Stats(
        window_from=window.start,
        window_to=window.end,
        requests=0,
        by_team_and_status=[],
        routed=0,
        rerouted=0,
        reroute_rate=None,
        time_to_route=NONE,
        time_to_first_reply=NONE,
        backlog=[],
        transfers=Transfers(
            count=0,
            requests=0,
            share_of_routed=None,
            by_route=[],
            by_original_reason=[],
            time_lost=NONE,
            first_time_right_rate=None,
            time_to_first_reply_transferred=NONE,
            time_to_first_reply_not_transferred=NONE,
        ),
    )


def test_volume_first_reply_targets_and_backlog_ages() -> None:
    stats = full_stats(StatsWindow.of(None, T0))
    volumes = volume_by_team(stats)
    assert [(v.team, v.total) for v in volumes] == [
        ("withdrawals-transfers", 5),
        ("cards", 3),
        ("unrouted", 1),
    ]
    assert volumes[1].by_status == {Status.OPEN: 2, Status.SOLVED: 1}
    targets = first_reply_targets(stats.sla)
    assert [(t.priority, t.targets, t.met, t.breached) for t in targets] == [
        (Priority.URGENT, (3600,), 1, 3),
        (Priority.NORMAL, (8 * 3600,), 5, 1),
    ]
    assert targets[0].attainment == 0.25
    series, rows = backlog_ages(
        stats.model_copy(
            update={
                "backlog_by_age": [
                    *stats.backlog_by_age,
                    BacklogAge(team="cards", age="new", count=1),
                ]
            }
        )
    )
    assert series == ["< 1 h", "1-4 h", "4-24 h", "1-3 d", "> 3 d", "new"]  # unknown: last
    assert [(r.team, r.counts, r.total) for r in rows] == [
        ("withdrawals-transfers", (0, 0, 0, 4, 1, 0), 5),
        ("cards", (2, 0, 0, 0, 0, 1), 3),
    ]


def test_the_picker_reads_iso_dates_as_utc() -> None:
    assert parse_moment("") is None
    assert parse_moment("2026-12-01T09:30") == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert parse_moment("2026-12-01T10:30+01:00") == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert parse_moment("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_moment("yesterday")
    assert picker_value(datetime(2026, 12, 1, 9, 30, tzinfo=UTC)) == "2026-12-01T09:30"
    assert picker_value(datetime(2026, 12, 1, 9, 30, 5, 7, tzinfo=UTC)) == "2026-12-01T09:30:05"


# -- the page ----------------------------------------------------------------------------------


@dataclass
class FixedFigures(FakeRequestRepository):
    """A store whose stats are whatever the test says, over the window asked for."""

    windows: list[StatsWindow] = field(default_factory=list)
    full: bool = True

    async def stats(self, window: StatsWindow) -> Stats:
        self.windows.append(window)
        return full_stats(window) if self.full else empty_stats(window)


@dataclass(frozen=True)
class Site:
    client: httpx.AsyncClient
    repository: FixedFigures


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    settings = HistorySettings()
    app = FastAPI()
    app.include_router(page_router)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    repository = FixedFigures()
    app.state.history_service = HistoryService(repository)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Site(client, repository)


DASHBOARD = bearer("ops-1", Role.DASHBOARD)


async def test_the_dashboard_shows_every_figure(site: Site) -> None:
    page = await site.client.get(
        "/dashboard",
        params={"from": "2026-11-01T00:00", "to": "2026-12-01T00:00"},
        headers=DASHBOARD,
    )
    assert page.status_code == 200, page.text
    [window] = site.repository.windows
    assert (window.start, window.end) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    html = page.text
    assert page.headers["content-security-policy"] == CSP  # no script at all
    assert page.headers["cache-control"] == "no-store"
    assert "style=" not in html  # the CSP would refuse it: classes only
    assert "<script" not in html
    assert html.count('<svg class="chart"') == 3  # volume, first reply, backlog by age
    assert "<title>withdrawals-transfers: 5</title>" in html  # the team's bar
    assert "<title>Not routed yet: 1</title>" in html
    assert 'value="2026-11-01T00:00"' in html
    assert 'value="2026-12-01T00:00"' in html
    assert "25.0%" in html  # the reroute rate
    assert "50.0%" in html  # first time right
    assert "15 min" in html  # time lost (median)
    assert "30 min" in html  # first reply: median...
    assert "1 h 30 min" in html  # ...and p90
    assert "Urgent target 1 h" in html  # the target line on the first-reply chart
    sla = re.search(r'<table id="sla-table">.*?</table>', html, re.S)
    assert sla is not None
    assert sla.group(0).count("<tr>") == 5  # head + 4 rows
    assert 'class="num breached">3<' in sla.group(0)
    assert sla.group(0).count('<svg class="share"') == 4
    assert "<title>withdrawals-transfers, 1-3 d: 4</title>" in html  # backlog by age
    assert "No SLA figures" not in html


async def test_an_empty_window_shows_empty_states(site: Site) -> None:
    site.repository.full = False
    page = await site.client.get("/dashboard", headers=DASHBOARD)
    assert page.status_code == 200
    [window] = site.repository.windows
    assert window.end - window.start == timedelta(days=7)  # the API's default
    for empty in (
        "No requests in this window.",
        "No SLA figures for this window yet.",
        "No ages of the backlog yet.",
        "No first-reply targets in the figures yet.",
    ):
        assert empty in page.text
    assert '<svg class="chart"' not in page.text


async def test_only_the_dashboard_role_reads_it(site: Site) -> None:
    for role in (Role.CUSTOMER, Role.AGENT):
        refused = await site.client.get("/dashboard", headers=bearer("acc-1001", role))
        assert refused.status_code == 403
        assert "for support managers" in refused.text
        assert "<svg" not in refused.text
    anonymous = await site.client.get("/dashboard")
    assert anonymous.status_code == 401
    assert '<input type="hidden" name="next" value="/dashboard">' in anonymous.text
    assert site.repository.windows == []  # nobody else made it count anything


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"from": "2026-12-02T00:00", "to": "2026-12-01T00:00"}, "window", "must be before"),
        ({"from": "2024-01-01", "to": "2026-12-01"}, "window", "at most 366 days"),
        ({"from": "last tuesday"}, "from", "is not a date and time"),
        ({"to": "0001-01-01T00:00"}, "window", "that far away"),
    ],
)
async def test_a_bad_window_says_what_is_wrong(
    site: Site, params: dict[str, str], field: str, says: str
) -> None:
    page = await site.client.get("/dashboard", params=params, headers=DASHBOARD)
    assert page.status_code == 422
    assert says in page.text
    assert f'id="{field}-error"' in page.text
    if field != "window":
        assert 'aria-invalid="true" aria-describedby="from-error"' in page.text
    assert site.repository.windows == []
    assert "<svg" not in page.text


async def test_the_page_speaks_the_visitors_language(site: Site) -> None:
    page = await site.client.get("/dashboard", headers=DASHBOARD | {"Accept-Language": "de"})
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "Dashboard" in page.text
    assert "Volume by team" not in page.text


async def csrf_of(client: httpx.AsyncClient) -> str:
    page = await client.get("/dashboard")
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert found is not None
    return found.group(1)


async def test_signing_in_for_the_dashboard_admits_its_role_only(site: Site) -> None:
    client = site.client

    async def sign_in(role: Role, next_: str) -> httpx.Response:
        data = {
            "token": bearer("someone", role)["Authorization"].removeprefix("Bearer "),
            "next": next_,
            "csrf_token": await csrf_of(client),
        }
        return await client.post("/my-activities/session", data=data, headers=SAME_SITE)

    customer = await sign_in(Role.CUSTOMER, "/dashboard")
    assert customer.status_code == 401
    assert "The dashboard is for support managers." in customer.text
    assert '<input type="hidden" name="next" value="/dashboard">' in customer.text  # try again
    assert "helpdesk_session" not in customer.headers.get("set-cookie", "")
    elsewhere = await sign_in(Role.DASHBOARD, "/my-activities")
    assert elsewhere.status_code == 401  # the customers' pages still refuse it
    admitted = await sign_in(Role.DASHBOARD, "/dashboard")
    assert admitted.status_code == 303
    assert admitted.headers["location"] == "/dashboard"
    assert "helpdesk_session" in admitted.headers["set-cookie"]
    page = await client.get("/dashboard")  # now by the cookie
    assert page.status_code == 200
    assert 'action="/my-activities/session/end"' in page.text  # and may sign out
