"""History's scheduler SIGKILLed while hundreds of timers are due: each fires exactly once.

The stack's history and scheduler are restarted on a time-rules file of their own (first
reply due 20 s after routing, in calendar time; resolution a day; no automations), with the
scheduler stopped. N requests go through the intake; once history has planned every one's
first-reply breach and all of them are due, the scheduler starts with a small batch and a
short lease. Once a third of the breaches are on `tickets.sla`, it is SIGKILLed in the middle
of a round (aimed at a round that has published and not yet marked its timers fired: the
window in which a crash makes the next scheduler fire the same timers again) and started
again. When no first-reply timer of the load is left unfired, it counts:

- *history*: the requests whose view holds exactly one first-reply breach (the projection
  applies an event id once);
- *lost*: a request without its breach in the view, on `tickets.sla` or on its team's topic;
- *dup*: alerts beyond the one expected per request: two breaches in a view, two distinct
  event ids on a topic, a warning published although its breach was due too (the scheduler
  drops those), or a resolution alert a day early.

Copies of the same event on the wire (published, then the scheduler died before marking the
timer fired, and the next one fired it again before history had read the first copy) are
at-least-once by design and reported apart: consumers dedupe on `event_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from pymongo import AsyncMongoClient

from devstack.faults.driver import Result, TopicTally, submit_load
from devstack.stack import SCHEDULER, EmbeddedStack
from shared.contracts.events import derived_event_id
from shared.mongo import Document
from shared.waiting import wait_until

HISTORY = "history"
FIRST_REPLY = "first_reply"
BREACH_KEY, WARNING_KEY = "first_reply:breach", "first_reply:warning"
RESOLUTION_KEYS = ["resolution:breach", "resolution:warning"]
# A first reply due 20 s after routing, around the clock, for either priority; the
# resolution target is far enough away that none of its timers may fire during the run.
TIME_RULES = """\
warn_at = 0.75

[[targets]]
priority = "normal"
first_reply = "PT20S"
resolution = "P1D"

[[targets]]
priority = "urgent"
first_reply = "PT20S"
resolution = "P1D"
"""
LEASE_SECONDS = 3
AIM_SECONDS = 10  # how long the kill waits for a round in progress


def scheduler_env(rules: Path, count: int) -> dict[str, str]:
    """History and its scheduler both read these (HISTORY_*)."""
    return {
        "HISTORY_TIME_RULES_PATH": str(rules),
        # Small rounds, so the kill lands in the middle of the load (20 for N = 500).
        "HISTORY_SCHEDULER_BATCH": str(max(2, min(20, count // 25))),
        "HISTORY_SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
        "HISTORY_SCHEDULER_POLL_SECONDS": "0.5",
    }


async def _restart(stack: EmbeddedStack, env: Mapping[str, str], *, scheduler: bool) -> None:
    """History (and the scheduler, if asked) stopped cleanly and started with `env` added."""
    stack.config = dataclasses.replace(stack.config, extra_env=env)
    await stack.stop_process(SCHEDULER)
    await stack.stop_process(HISTORY)
    await stack.start_service(HISTORY, timeout=120)
    if scheduler:
        await stack.start_service(SCHEDULER, timeout=120)


def _alerts(tally: TopicTally, ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The SLA alerts of the load on a topic, by ticket id."""
    return {
        ticket_id: [p for p, _ in records if p.get("event_type") in ("SlaWarning", "SlaBreached")]
        for ticket_id, records in tally.records.items()
        if ticket_id in ids
    }


def _on_wire(tally: TopicTally, ids: set[str]) -> set[str]:
    """The requests of the load whose first-reply breach is on the tally's topic."""
    return {t for t, alerts in _alerts(tally, ids).items() if _breaches(alerts)}


def _breaches(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        a for a in alerts if a["event_type"] == "SlaBreached" and a.get("metric") == FIRST_REPLY
    ]


async def _slowest_ping(mongo: AsyncMongoClient[Document], slowest: list[float]) -> None:
    """Until cancelled: the longest a ping to MongoDB took (the embedded one can stall)."""
    while True:
        began = time.monotonic()
        with contextlib.suppress(Exception):
            await mongo.admin.command("ping")
        slowest[0] = max(slowest[0], time.monotonic() - began)
        await asyncio.sleep(0.5)


async def run_scheduler_scenario(stack: EmbeddedStack, name: str, count: int) -> Result:
    started = time.monotonic()
    tag = f"scheduler-{uuid4().hex[:6]}"
    result = Result(name, routed=None, emails=None)
    config = stack.config
    rules = Path(tempfile.mkdtemp(prefix="faults-rules-")) / "time_rules.toml"
    rules.write_text(TIME_RULES)
    env = {**config.extra_env, **scheduler_env(rules, count)}
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(stack.config.mongo_url)
    timers = mongo["history"]["timers"]
    requests = mongo["history"]["requests"]
    sla = TopicTally(stack.config.kafka_bootstrap, "tickets.sla")
    team_tallies: dict[str, TopicTally] = {}
    log = stack.config.log_dir / f"{SCHEDULER}.log" if stack.config.log_dir else None
    log_offset = log.stat().st_size if log and log.exists() else 0
    phases: list[str] = []

    def phase(what: str) -> None:
        """A progress line, and the phase's time for the notes."""
        phases.append(f"{what} {time.monotonic() - started:.0f}")
        print(f"   {time.monotonic() - started:5.0f} s  {what}", flush=True)

    slowest = [0.0]
    pinger = asyncio.create_task(_slowest_ping(mongo, slowest))
    try:
        await _restart(stack, env, scheduler=False)  # the scheduler stays stopped for now
        phase("history restarted on the test rules, scheduler stopped")
        ids = await submit_load(stack, count, tag, lambda _: None)
        phase(f"{len(ids)} requests accepted")
        unique = set(ids)
        result.sent = len(unique)
        mine = {"ticket_id": {"$in": sorted(unique)}}

        async def planned() -> bool:
            return await timers.count_documents({**mine, "key": BREACH_KEY}) == len(unique)

        await wait_until(
            planned, timeout=180 + count / 5, what="history to plan every breach", interval=1
        )
        phase("every breach planned")
        due: list[datetime] = [
            d["due_at"] async for d in timers.find({**mine, "key": BREACH_KEY}, {"due_at": 1})
        ]
        latest = max(due).replace(tzinfo=UTC)

        async def all_due() -> bool:
            return datetime.now(UTC) > latest

        await wait_until(all_due, timeout=120, what="every breach to be due", interval=0.5)
        phase("every breach due")
        planned_timers = Counter(
            [d["key"] async for d in timers.find(mine, {"key": 1})]
        )  # per key, before any fired
        teams = {
            str(d["team"])
            async for d in requests.find({"_id": {"$in": sorted(unique)}}, {"team": 1})
        }
        team_tallies = {
            t: TopicTally(stack.config.kafka_bootstrap, f"team.{t}") for t in sorted(teams)
        }
        await sla.start()
        for tally in team_tallies.values():
            await tally.start()

        await stack.start_service(SCHEDULER, timeout=120)
        phase("scheduler ready")

        async def a_third_fired() -> bool:
            await sla.poll(timeout_ms=0)
            return len(_on_wire(sla, unique)) >= max(1, len(unique) // 3)

        await wait_until(
            a_third_fired,
            timeout=300 + count / 2,  # the embedded MongoDB may stall under the alerts' writes
            what="a third of the breaches to fire",
            interval=0.01,
        )

        # Then aim at the crash window: a round that has published its breaches (on the
        # wire) and not yet marked their timers fired (still leased). If no probe catches a
        # round there within AIM_SECONDS, the kill comes anyway, wherever the round is.
        async def in_the_window() -> bool:
            leased = {**mine, "key": BREACH_KEY, "fired": False}
            now = datetime.now(UTC)
            held = {
                d["ticket_id"]
                async for d in timers.find(
                    {**leased, "lease_until": {"$gt": now}}, {"ticket_id": 1}
                )
            }
            if not held:
                return False
            await sla.poll(timeout_ms=0)
            return bool(held & _on_wire(sla, unique))

        aimed = True
        try:
            await wait_until(in_the_window, timeout=AIM_SECONDS, what="a round", interval=0.001)
        except TimeoutError:
            aimed = False
        await stack.kill_process(SCHEDULER)  # SIGKILL: mid-round, leases held
        killed_at = datetime.now(UTC)
        phase("scheduler SIGKILLed")
        held = [
            d["ticket_id"]
            async for d in timers.find(
                {**mine, "key": BREACH_KEY, "fired": False, "lease_until": {"$gt": killed_at}},
                {"ticket_id": 1},
            )
        ]
        await sla.poll()
        on_wire = _on_wire(sla, unique)
        result.notes.append(
            f"killed with {len(on_wire)}/{len(unique)} breaches on tickets.sla;"
            f" {len(held)} breach timers leased by the dead scheduler, unmarked"
            f" ({sum(t in on_wire for t in held)} of them already published)"
        )
        if not aimed:
            result.notes.append(f"no round caught between publish and mark in {AIM_SECONDS} s")
        elif not any(t in on_wire for t in held):
            result.notes.append(
                "a probe caught a round between publish and mark, but it had marked its timers"
                " before the SIGKILL landed"
                + (f" ({len(held)} held then: the next round's, not published)" if held else "")
            )
        if len(on_wire) == len(unique):
            result.notes.append("the kill came after the last breach: nothing was in flight")
        await stack.start_service(SCHEDULER, timeout=120)
        phase("scheduler ready again")

        async def settled() -> bool:
            await sla.poll()
            unfired = await timers.count_documents(
                {**mine, "key": {"$in": [BREACH_KEY, WARNING_KEY]}, "fired": False}
            )
            recorded = await requests.count_documents(
                {"_id": {"$in": sorted(unique)}, "timeline.kind": "sla_breached"}
            )
            return unfired == 0 and recorded == len(unique)

        try:
            await wait_until(settled, timeout=180 + count / 5, what=f"{name} to settle", interval=1)
        except TimeoutError as exc:
            result.notes.append(str(exc))
        phase("settled")
        result.notes.append("at second: " + ", ".join(phases))
        result.notes.append(f"slowest MongoDB ping during the scenario: {slowest[0]:.1f} s")

        # The count.
        await sla.poll()
        for tally in team_tallies.values():
            await tally.poll()
        views = {
            str(d["_id"]): d
            async for d in requests.find(
                {"_id": {"$in": sorted(unique)}}, {"timeline": 1, "team": 1}
            )
        }
        premature = await timers.count_documents(
            {**mine, "key": {"$in": RESOLUTION_KEYS}, "fired": True}
        )
        tallies = {"tickets.sla": sla, **{f"team.{t}": v for t, v in team_tallies.items()}}
        wire = {topic: _alerts(tally, unique) for topic, tally in tallies.items()}
        counted = _count(unique, views, wire)
        result.history, result.lost = counted.once_in_view, counted.lost
        result.duplicated = counted.duplicated + counted.unexpected + premature
        result.notes += counted.notes
        result.notes.append(
            "timers planned: "
            + ", ".join(f"{k} {v}" for k, v in sorted(planned_timers.items()))
            + f"; resolution timers fired (early): {premature}"
        )
        if counted.unexpected:
            result.notes.append(
                f"{counted.unexpected} warning/resolution alert(s) published (counted as dup)"
            )
        if log is not None and log.exists():
            with log.open("rb") as lines:
                lines.seek(log_offset)
                failed = lines.read().count(b"scheduler_round_failed")
            result.notes.append(f"scheduler rounds failed (its log): {failed}")
        for topic, alerts in wire.items():
            records = [a for per in alerts.values() for a in _breaches(per)]
            distinct_ids = {str(a["event_id"]) for a in records}
            result.notes.append(
                f"{topic}: {len(records)} first-reply breach records, {len(distinct_ids)}"
                f" distinct event ids ({len(records) - len(distinct_ids)} copies on the wire)"
            )
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        await sla.stop()
        for tally in team_tallies.values():
            await tally.stop()
        await mongo.close()
        # Back to the stack's own rules and settings for whatever runs next.
        await _restart(stack, config.extra_env, scheduler=True)
    result.seconds = time.monotonic() - started
    return result


@dataclasses.dataclass
class _Count:
    once_in_view: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0  # alerts that should not exist at all (overtaken warnings, resolution)
    notes: list[str] = dataclasses.field(default_factory=list)


def _count(
    ids: set[str],
    views: Mapping[str, Document],
    wire: Mapping[str, Mapping[str, list[dict[str, Any]]]],
) -> _Count:
    """Per request: its first-reply breaches in the view and on tickets.sla and its team's
    topic (one event id each, the one the scheduler derives), and any other alert."""
    count = _Count()
    for ticket_id in sorted(ids):
        view = views.get(ticket_id, {})
        in_view = [
            e
            for e in view.get("timeline", [])
            if e.get("kind") == "sla_breached"
            and (e.get("details") or {}).get("metric") == FIRST_REPLY
        ]
        topics = ("tickets.sla", f"team.{view.get('team')}")
        alerts = [wire.get(topic, {}).get(ticket_id, []) for topic in topics]
        breaches = [_breaches(a) for a in alerts]
        count.once_in_view += len(in_view) == 1
        if not in_view or not all(breaches):
            count.lost += 1
        distinct = [{str(b["event_id"]) for b in on_topic} for on_topic in breaches]
        count.duplicated += max(len(in_view) - 1, *(len(d) - 1 for d in distinct), 0)
        count.unexpected += sum(len(a) - len(b) for a, b in zip(alerts, breaches, strict=True))
        expected = str(derived_event_id(ticket_id, f"sla:{FIRST_REPLY}:breach"))
        if any(d - {expected} for d in distinct) or any(
            str(e.get("event_id")) != expected for e in in_view
        ):
            count.notes.append(f"{ticket_id}: a breach with another event id than {expected}")
    return count
