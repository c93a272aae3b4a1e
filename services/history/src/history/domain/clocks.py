"""The time rules applied to one request (pure, no I/O): its SLA clocks, and the timers that
must fire for it, each with the event it publishes when it does.

Everything follows from the request's view and the rules, never from the time of asking: a
clock's due time is when the target would be reached if the request stays as it is. That
makes the plan the same whoever computes it, whenever, in whatever order the events came —
the projection stores it, the scheduler recomputes it before it fires a timer, and a timer
the request has moved past (answered, re-opened, solved) is simply no longer in the plan.

- first_reply runs from the routing decision to the team's first answer;
- next_reply runs from a customer's message after an answer to the next answer;
- resolution runs from the routing decision until the request is solved (again, if re-opened);
- all three pause while the request waits for the customer (pending) or is solved/closed;
- a transfer keeps every clock running (the customer has waited all along).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from history.domain.clock_state import ClockStatus, SlaClock
from history.domain.projection import RequestView, StatusMark, to_millis
from history.domain.time_rules import SlaTarget, TimeRules
from shared.contracts.events import (
    AutomationDue,
    Envelope,
    SlaBreached,
    SlaMetric,
    SlaWarning,
    derived_event_id,
)
from shared.contracts.statuses import Status

PAUSED: frozenset[Status] = frozenset({Status.PENDING, Status.SOLVED, Status.CLOSED})
ANSWERS = frozenset({"reply", "information_requested", "documents_requested"})
CUSTOMER_MESSAGES = frozenset({"comment", "documents_uploaded"})
WARNING, BREACH = "warning", "breach"


@dataclass(frozen=True, slots=True)
class Timer:
    """Something to do at `due_at`: publish `event` (unless the plan has moved on)."""

    key: str  # what it is for the request: first_reply:breach, auto:close-solved, ...
    due_at: datetime
    event: Envelope

    @property
    def event_id(self) -> UUID:
        return self.event.event_id


@dataclass(frozen=True, slots=True)
class Plan:
    clocks: tuple[SlaClock, ...]
    timers: tuple[Timer, ...]


@dataclass(frozen=True, slots=True)
class _Run:
    """One run of a clock: from `start` until `stop` (None: not stopped)."""

    cycle: str
    start: datetime
    stop: datetime | None


def plan(view: RequestView, rules: TimeRules) -> Plan:
    clocks: list[SlaClock] = []
    timers: list[Timer] = []
    target = rules.target_for(view.team, view.priority) if view.routed_at else None
    if target is not None and view.routed_at is not None and view.team is not None:
        alerts = _alerts(view)
        for metric in SlaMetric:
            span = target.of(metric)
            runs = _runs_of(view, metric, view.routed_at)
            if span is None or not runs:
                continue
            clock, due = _clock(view, rules, target, metric, span, runs, alerts)
            clocks.append(clock)
            timers += due
    timers += _automations(view, rules)
    return Plan(tuple(clocks), tuple(timers))


# -- SLA clocks -------------------------------------------------------------------------------


def _alerts(view: RequestView) -> set[tuple[str, str]]:
    """(cycle, phase) of every warning and breach already recorded."""
    phases = {"sla_warning": WARNING, "sla_breached": BREACH}
    return {
        (str(e.details.get("cycle")), phases[e.kind]) for e in view.timeline if e.kind in phases
    }


def _runs_of(view: RequestView, metric: SlaMetric, routed_at: datetime) -> list[_Run]:
    answers = sorted(e.at for e in view.timeline if e.kind in ANSWERS)
    if metric is SlaMetric.FIRST_REPLY:
        return [_Run(metric.value, routed_at, answers[0] if answers else None)]
    if metric is SlaMetric.RESOLUTION:
        return [_Run(metric.value, routed_at, _solved_at(view))]
    # next_reply: a customer's message after an answer starts a run; the next answer stops it.
    runs: list[_Run] = []
    moments = sorted(
        [(e.at, 1, e.event_id) for e in view.timeline if e.kind in CUSTOMER_MESSAGES]
        + [(at, 0, "") for at in answers]
    )
    answered, current = False, None
    for at, is_customer, event_id in moments:
        if not is_customer:
            if current is not None:
                runs.append(_Run(current.cycle, current.start, at))
                current = None
            answered = True
        elif answered and current is None:
            current = _Run(f"{metric.value}:{event_id}", at, None)
    if current is not None:
        runs.append(current)
    return runs


def _solved_at(view: RequestView) -> datetime | None:
    if view.status not in (Status.SOLVED, Status.CLOSED):
        return None
    solved = [m.at for m in view.status_history if m.status in (Status.SOLVED, Status.CLOSED)]
    last_open = max(
        (m.at for m in view.status_history if m.status not in (Status.SOLVED, Status.CLOSED)),
        default=None,
    )
    after = [at for at in solved if last_open is None or at >= last_open]
    return min(after) if after else (solved[-1] if solved else view.updated_at)


def _status_at(marks: tuple[StatusMark, ...], at: datetime) -> Status:
    status = Status.OPEN  # a routed request is open until a change says otherwise
    for mark in marks:
        if mark.at > at:
            break
        status = mark.status
    return status


def _running(
    marks: tuple[StatusMark, ...], start: datetime, stop: datetime | None
) -> list[tuple[datetime, datetime | None]]:
    """The intervals of [start, stop) in which the clock counts (not paused)."""
    intervals: list[tuple[datetime, datetime | None]] = []
    since = start if _status_at(marks, start) not in PAUSED else None
    for mark in marks:
        if mark.at <= start or (stop is not None and mark.at >= stop):
            continue
        if mark.status in PAUSED and since is not None:
            intervals.append((since, mark.at))
            since = None
        elif mark.status not in PAUSED and since is None:
            since = mark.at
    if since is not None:
        intervals.append((since, stop))
    return intervals


def _clock(
    view: RequestView,
    rules: TimeRules,
    target: SlaTarget,
    metric: SlaMetric,
    span: timedelta,
    runs: list[_Run],
    alerts: set[tuple[str, str]],
) -> tuple[SlaClock, list[Timer]]:
    clock_time = rules.working_time(target)
    met = breached = 0
    settled: list[float] = []
    timers: list[Timer] = []
    status: ClockStatus = "met"
    due_at: datetime | None = None
    warn_at: datetime | None = None
    for run in runs:
        intervals = _running(view.status_history, run.start, run.stop)
        counted = sum(
            (clock_time.elapsed(a, b) for a, b in intervals if b is not None), timedelta(0)
        )
        alerted = (run.cycle, BREACH) in alerts
        if run.stop is not None:
            late = alerted or counted > span
            met, breached = met + (not late), breached + late
            settled.append(round(counted.total_seconds(), 3))
            status = "breached" if late else "met"
            due_at = warn_at = None
            continue
        breached += alerted
        open_from = intervals[-1][0] if intervals and intervals[-1][1] is None else None
        status = "breached" if alerted else ("running" if open_from else "paused")
        if open_from is None:
            due_at = warn_at = None
            continue
        due_at = clock_time.add(open_from, span - counted) if counted < span else open_from
        warn_span = span * rules.warn_at
        warn_at = clock_time.add(open_from, warn_span - counted) if counted < warn_span else None
        alert = _alert_fields(view, target, metric, span, run.cycle, due_at)
        if not alerted:
            timers.append(
                Timer(
                    f"{metric.value}:{BREACH}",
                    due_at,
                    SlaBreached(**alert, **_id(view, run, BREACH)),
                )
            )
        if not alerted and (run.cycle, WARNING) not in alerts:
            when = warn_at or open_from
            if when < due_at:
                warning = SlaWarning(**alert, **_id(view, run, WARNING), share=rules.warn_at)
                timers.append(Timer(f"{metric.value}:{WARNING}", when, warning))
    last = runs[-1]
    clock = SlaClock(
        metric=metric,
        cycle=last.cycle,
        team=view.team or "",
        priority=view.priority,
        target_seconds=int(span.total_seconds()),
        business_hours=target.business_hours,
        status=status,
        started_at=last.start,
        due_at=due_at,
        warn_at=warn_at,
        stopped_at=last.stop,
        met=met,
        breached=breached,
        settled_seconds=tuple(settled),
    )
    return clock, timers


def _alert_fields(
    view: RequestView,
    target: SlaTarget,
    metric: SlaMetric,
    span: timedelta,
    cycle: str,
    due_at: datetime,
) -> dict[str, object]:
    return {
        "ticket_id": view.ticket_id,
        "account_id": view.account_id,
        "correlation_id": f"sla:{view.ticket_id}",
        "metric": metric,
        "cycle": cycle,
        "team": view.team,
        "priority": view.priority,
        "target_seconds": max(int(span.total_seconds()), 1),
        "due_at": due_at,
        "business_hours": target.business_hours,
    }


def _id(view: RequestView, run: _Run, phase: str) -> dict[str, object]:
    """The same alert of the same run has the same id: consumers apply it once."""
    return {"event_id": derived_event_id(view.ticket_id, f"sla:{run.cycle}:{phase}")}


# -- automations ------------------------------------------------------------------------------


def _reminded(view: RequestView) -> dict[tuple[str, datetime], datetime]:
    """(rule id, waiting since) → when the customer was reminded."""
    found: dict[tuple[str, datetime], datetime] = {}
    for entry in view.timeline:
        if entry.kind == "reminder":
            since = to_millis(datetime.fromisoformat(str(entry.details["waiting_since"])))
            found[(str(entry.details["rule_id"]), since)] = entry.at
    return found


def _automations(view: RequestView, rules: TimeRules) -> Iterable[Timer]:
    marks = view.status_history
    if not marks or marks[-1].status is not view.status:
        return []
    since = marks[-1]
    reminded = _reminded(view)
    timers: list[Timer] = []
    for rule in rules.automations:
        if rule.status is not view.status:
            continue
        if rule.action == "remind" and (rule.id, since.at) in reminded:
            continue
        base = since.at if rule.counts_from is None else reminded.get((rule.counts_from, since.at))
        if base is None:
            continue
        due_at = base + rule.after
        event = AutomationDue(
            event_id=derived_event_id(view.ticket_id, f"auto:{rule.id}:{since.event_id}"),
            occurred_at=due_at,
            ticket_id=view.ticket_id,
            account_id=view.account_id,
            correlation_id=f"automation:{view.ticket_id}",
            rule_id=rule.id,
            action=rule.action,
            status=view.status,
            since_event_id=since.event_id,
            waiting_since=since.at,
            note=rule.note,
        )
        timers.append(Timer(f"auto:{rule.id}", due_at, event))
    return timers
