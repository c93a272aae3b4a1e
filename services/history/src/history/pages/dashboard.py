"""The dashboard for support managers: the figures of `GET /v1/stats` (the same use case,
`HistoryService.stats`) as a page, with charts drawn on the server (`charts`), no script.

Only the dashboard role reads it (history.access.STATS_ROLES): a visitor not signed in gets
the sign-in form, any other role a 403 page. It shows aggregates only, never a request's
text. The window is picked with a GET form, `from` and `to` as in the API (ISO 8601; a time
without an offset is UTC; empty: the last seven days up to now).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from history.access import STATS_ROLES
from history.api import Service
from history.domain.stats import (
    AGE_BUCKETS,
    DEFAULT_WINDOW,
    MAX_WINDOW,
    UNROUTED,
    InvalidWindowError,
    SlaAttainment,
    Stats,
    StatsWindow,
)
from history.pages.charts import (
    Bar,
    Column,
    Target,
    column_chart,
    duration,
    share_bar,
    stacked_chart,
)
from history.pages.rendering import gettext_for, page_locale, problem_page, render
from history.pages.session import Visitor, Who
from history.pages.signin import DASHBOARD, sign_in_page
from history.service import InvalidQueryError
from shared.contracts.events import Priority, SlaMetric
from shared.contracts.statuses import Status

router = APIRouter(include_in_schema=False)

Translate = Callable[..., str]
PRIORITIES = (Priority.URGENT, Priority.NORMAL)  # the order the tables list them in
STATUSES = tuple(Status)


@dataclass(frozen=True, slots=True)
class TeamVolume:
    team: str
    total: int
    by_status: dict[Status, int]


@dataclass(frozen=True, slots=True)
class PriorityTarget:
    """The first-reply target of one priority, over the teams: its target(s) and clocks."""

    priority: Priority
    targets: tuple[int, ...]  # distinct, ascending (teams may differ)
    met: int
    breached: int

    @property
    def attainment(self) -> float | None:
        settled = self.met + self.breached
        return self.met / settled if settled else None


@dataclass(frozen=True, slots=True)
class AgeRow:
    team: str
    counts: tuple[int, ...]  # one per age bucket, in the series' order
    total: int


def volume_by_team(stats: Stats) -> list[TeamVolume]:
    """The window's requests per team, the largest first."""
    counts: dict[str, dict[Status, int]] = defaultdict(dict)
    for row in stats.by_team_and_status:
        by_status = counts[row.team]
        by_status[row.status] = by_status.get(row.status, 0) + row.count
    volumes = [TeamVolume(t, sum(s.values()), s) for t, s in counts.items()]
    return sorted(volumes, key=lambda v: (-v.total, v.team))


def statuses_seen(volumes: Sequence[TeamVolume]) -> list[Status]:
    seen = {status for v in volumes for status in v.by_status}
    return [status for status in STATUSES if status in seen]


def _priority_order(priority: Priority) -> tuple[int, str]:
    return (PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES), priority)


def sla_rows(sla: Sequence[SlaAttainment]) -> list[SlaAttainment]:
    metrics = tuple(SlaMetric)
    return sorted(
        sla,
        key=lambda r: (
            r.team,
            _priority_order(r.priority),
            metrics.index(r.metric) if r.metric in metrics else len(metrics),
        ),
    )


def first_reply_targets(sla: Sequence[SlaAttainment]) -> list[PriorityTarget]:
    """Per priority, the first-reply target(s) and the clocks met and breached, summed over
    the teams (counts add up; medians would not, so the table by team has those)."""
    grouped: dict[Priority, list[SlaAttainment]] = defaultdict(list)
    for row in sla:
        if row.metric is SlaMetric.FIRST_REPLY:
            grouped[row.priority].append(row)
    return [
        PriorityTarget(
            priority,
            tuple(sorted({r.target_seconds for r in rows if r.target_seconds is not None})),
            sum(r.met for r in rows),
            sum(r.breached for r in rows),
        )
        for priority, rows in sorted(grouped.items(), key=lambda item: _priority_order(item[0]))
    ]


def backlog_ages(stats: Stats) -> tuple[list[str], list[AgeRow]]:
    """The age buckets (AGE_BUCKETS' order; a label the store adds later goes last) and the
    backlog per team in them, the largest first."""
    series = [label for label, _ in AGE_BUCKETS]
    series += sorted({b.age for b in stats.backlog_by_age} - set(series))
    counts: dict[str, list[int]] = {}
    for row in stats.backlog_by_age:
        counts.setdefault(row.team, [0] * len(series))[series.index(row.age)] += row.count
    rows = [AgeRow(team, tuple(c), sum(c)) for team, c in counts.items()]
    return series, sorted(rows, key=lambda r: (-r.total, r.team))


def parse_moment(text: str) -> datetime | None:
    """An ISO 8601 date or date and time, as UTC (a time without an offset is UTC); None
    when empty. ValueError when it is not one, OverflowError when UTC cannot hold it."""
    text = text.strip()
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def picker_value(value: datetime) -> str:
    """A UTC time as an `<input type="datetime-local">` holds it (seconds when it has some)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")


def window_problem(start: datetime | None, end: datetime | None, _: Translate) -> str:
    """Why StatsWindow refused a window, in the visitor's words."""
    try:
        end = end or datetime.now(UTC)
        start = start or end - DEFAULT_WINDOW
    except OverflowError:
        start = end = None
    if start is not None and end is not None:
        if start >= end:
            return _("“From” must be before “To”.")
        if end - start > MAX_WINDOW:
            return _("The window may span at most %(days)s days.", days=MAX_WINDOW.days)
    return _("There are no figures for dates that far away. Pick a window of recent dates.")


def _moment(text: str, field: str, errors: dict[str, str], _: Translate) -> datetime | None:
    try:
        return parse_moment(text)
    except ValueError:
        errors[field] = _(
            "“%(value)s” is not a date and time. Use the picker, or write it as"
            " 2026-12-01T09:30 (UTC).",
            value=text.strip(),
        )
    except OverflowError:
        errors[field] = _("There are no figures for dates that far away.")
    return None


@router.get(DASHBOARD, response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    who: Who,
    service: Service,
    from_: Annotated[str, Query(alias="from", max_length=64)] = "",
    to: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    principal = who.principal
    _ = gettext_for(request)
    if principal is None:
        return sign_in_page(request, who)
    if principal.role not in STATS_ROLES:
        return problem_page(
            request, who, 403, _("Not available"), _("The dashboard is for support managers.")
        )
    errors: dict[str, str] = {}
    start = _moment(from_, "from", errors, _)
    end = _moment(to, "to", errors, _)
    form = {"from": from_.strip(), "to": to.strip()}
    stats = None
    if not errors:
        try:
            window = StatsWindow.of(start, end)
            stats = await service.stats(window.start, window.end)
        except (InvalidWindowError, InvalidQueryError):
            errors["window"] = window_problem(start, end, _)
    if stats is None:
        return _page(request, who, form, errors, None)
    form = {"from": picker_value(stats.window_from), "to": picker_value(stats.window_to)}
    return _page(request, who, form, errors, stats)


def _page(
    request: Request,
    who: Visitor,
    form: dict[str, str],
    errors: dict[str, str],
    stats: Stats | None,
) -> HTMLResponse:
    _ = gettext_for(request)
    locale = page_locale(request)
    context: dict[str, Any] = {
        "form": form,
        "errors": errors,
        "stats": stats,
        "count": partial(format_decimal, locale=locale),
        "percent": lambda v: "—" if v is None else format_percent(v, "#,##0.0%", locale=locale),
        "duration": duration,
    }
    if stats is not None:
        context |= figures(stats, _, context["count"], context["percent"])
    return render(request, "dashboard.html", context, status_code=422 if errors else 200, who=who)


def figures(
    stats: Stats,
    _: Translate,
    count: Callable[[int], str],
    percent: Callable[[float | None], str],
) -> dict[str, Any]:
    """What the template shows of the stats: the tables' rows and the charts' markup."""
    volumes = volume_by_team(stats)
    series, ages = backlog_ages(stats)
    targets = first_reply_targets(stats.sla)
    team_name = partial(_team_name, _)
    priority_name = partial(_priority_name, _)
    metric_name = partial(_metric_name, _)
    reply = stats.time_to_first_reply
    lines = [
        Target(
            _(
                "%(priority)s target %(time)s",
                priority=priority_name(t.priority),
                time=duration(seconds),
            ),
            seconds,
        )
        for t in targets
        for seconds in t.targets
    ]
    return {
        "volumes": volumes,
        "statuses": statuses_seen(volumes),
        "volume_chart": column_chart(
            [Bar(team_name(v.team), v.total, count(v.total)) for v in volumes],
            ident="volume-chart",
            title=_("Requests by team"),
            description=_("The window's requests per team; the table below has the numbers."),
            empty=_("No requests in this window."),
        ),
        "reply_chart": column_chart(
            [
                Bar(_("Median"), reply.median_seconds, duration(reply.median_seconds)),
                Bar(_("90th percentile"), reply.p90_seconds, duration(reply.p90_seconds)),
            ],
            ident="reply-chart",
            title=_("Time to first reply"),
            description=_("Median and 90th percentile, against the first-reply targets."),
            targets=lines,
            plot_height=160,
        ),
        "reply_targets": targets,
        "sla": sla_rows(stats.sla),
        "attainment_bar": lambda value, label: share_bar(value, label=label),
        "age_series": series,
        "ages": ages,
        "age_chart": stacked_chart(
            [Column(team_name(r.team), tuple(r.counts), count(r.total)) for r in ages],
            series,
            ident="age-chart",
            title=_("Backlog by age"),
            description=_("Requests waiting now per team, by how long ago they came in."),
            empty=_("No ages of the backlog yet."),
        ),
        "backlog_total": sum(b.count for b in stats.backlog),
        "team_name": team_name,
        "priority_name": priority_name,
        "metric_name": metric_name,
    }


def _team_name(_: Translate, team: str) -> str:
    return _("Not routed yet") if team == UNROUTED else team


def _priority_name(_: Translate, priority: Priority) -> str:
    names = {Priority.NORMAL: _("Normal"), Priority.URGENT: _("Urgent")}
    return names.get(priority, str(priority))


def _metric_name(_: Translate, metric: SlaMetric) -> str:
    names = {
        SlaMetric.FIRST_REPLY: _("First reply"),
        SlaMetric.NEXT_REPLY: _("Next reply"),
        SlaMetric.RESOLUTION: _("Resolution"),
    }
    return names.get(metric, str(metric))
