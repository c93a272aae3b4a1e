"""The benchmark's phases against a running stack, and what it concludes.

passthrough  raw aiokafka consume -> produce (the reference)
router       the router alone on the broker, pipelined (depth 3): its own process, topics and
             group (bench.alone)
router-depth-1  the same with pipelining off (ROUTER_PIPELINE_DEPTH=1, the default)
router-2     two such routers in one group (--router-replicas)
kafka        N requests onto tickets.submitted at --rate (default 1,000/s): latency per stage
http         N requests through the intake's HTTP API at --http-rate (0: as fast as possible)
burst        N requests onto tickets.submitted at once: the router's saturated throughput
burst-2      the same with a second router process in the consumer group (--router-replicas 2)

Each phase waits until its requests reached every stage and the consumers' lag is back to
zero, so the next phase starts on a quiet system. Progress goes to stderr; the report (the
table, the figures against the targets) is returned as text, the figures as a dict (JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from devstack.bench.alone import ALONE_PHASES, AloneResult, router_alone
from devstack.bench.bars import phase_bars
from devstack.bench.cleanup import Created
from devstack.bench.observers import (
    HistoryWatcher,
    MaildirWatcher,
    MetricsSampler,
    TeamTopicWatcher,
)
from devstack.bench.passthrough import PassThroughResult, pass_through
from devstack.bench.report import PhaseFigures, as_json, phase_figures, plot, table
from devstack.bench.workload import (
    BENCH_ACCOUNT_PREFIX,
    REQUESTS_PER_ACCOUNT,
    Submissions,
    bench_accounts,
    post_tickets,
    produce_submitted,
    seed_accounts,
    submitted_events,
)
from devstack.stack import SERVICES, EmbeddedStack, StackConfig, StackPorts, free_port
from history.projection_bench import events_per_second, sample_records
from shared.contracts.catalog import load_catalog
from shared.contracts.topics import Topics
from shared.waiting import DeadlineExceededError, wait_until

PHASES = ("passthrough", *ALONE_PHASES, "kafka", "http", "burst", "burst-2")
RSS_LIMIT_MB = {"intake": 300, "router": 500, "notifier": 300, "history": 300}
CONSUMERS = ("router", "notifier", "history")
MB = 1024 * 1024


@dataclass
class BenchOptions:
    n: int = 20_000
    http_n: int | None = None  # default: n
    rate: float = 1000.0
    http_rate: float = 0.0
    concurrency: int = 32
    router_replicas: int = 2
    phases: tuple[str, ...] = PHASES
    kafka: str = "127.0.0.1:9092"
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    maildir: Path | None = Path(".data/mail")
    urls: dict[str, str] = field(default_factory=dict)
    topic_prefix: str = ""
    data_dir: Path = Path(".data")
    out_dir: Path = Path(".data/bench")
    phase_timeout: float = 900.0
    email_wait: float = 120.0
    cleanup: bool = False  # remove what the run created afterwards (devstack.bench.cleanup)
    cleanup_wait: float = 600.0  # at most, for the consumers to drain before removing


@dataclass
class BenchRun:
    result: dict[str, Any]  # the figures, as written to the JSON file
    phases: list[PhaseFigures]
    stamp: str  # names the files: bench-<stamp>.json / .png
    plot: Path | None  # None: nothing arrived to plot


def _counts(subs: Submissions, watchers: Watchers) -> dict[str, Callable[[], int]]:
    """What each of a phase's bars counts: its requests sent, and arrived at each stage."""

    def arrived(stage: Mapping[str, float]) -> Callable[[], int]:
        return lambda: sum(1 for t in list(subs.sent) if t in stage)

    return {"sent": lambda: len(subs.sent)} | {
        name: arrived(stage) for name, stage in watchers.stages().items()
    }


def progress(message: str) -> None:
    """What the bench is doing, on stderr: stdout holds the report only."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class Watchers:
    team: TeamTopicWatcher
    history: HistoryWatcher
    mail: MaildirWatcher | None
    sampler: MetricsSampler

    def stages(self) -> dict[str, Mapping[str, float]]:
        stages: dict[str, Mapping[str, float]] = {
            "team": self.team.arrived,
            "history": self.history.arrived,
        }
        if self.mail is not None:
            stages["email"] = self.mail.arrived
        return stages


async def check_stack(urls: Mapping[str, str]) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for service, url in urls.items():
            try:
                response = await client.get(f"{url}/readyz")
            except httpx.HTTPError as exc:
                raise SystemExit(
                    f"{service} at {url} does not answer ({exc!r}): `make run` first"
                ) from exc
            if response.status_code != 200:
                raise SystemExit(f"{service} at {url} is not ready: {response.text}")


async def wait_done(watchers: Watchers, tickets: list[str], options: BenchOptions) -> None:
    """Until every ticket reached the team topic and history and neither the router nor history
    lags (or the phase deadline); then up to --email-wait more for the e-mails. The notifier is
    the slowest stage by far: waiting for all its mail would make each phase minutes long."""
    stages = watchers.stages()
    sampler = watchers.sampler

    def arrived(*names: str) -> bool:
        return all(all(t in stages[n] for t in tickets) for n in names if n in stages)

    async def routed_and_listed() -> bool:
        latest = sampler.samples[-1] if sampler.samples else None
        quiet = latest is not None and all(
            latest.lag.get(name, 0) == 0 for name in ("router", "history")
        )
        return arrived("team", "history") and quiet

    async def mailed() -> bool:
        return arrived("email")

    with contextlib.suppress(DeadlineExceededError):
        await wait_until(
            routed_and_listed, timeout=options.phase_timeout, what="routing", interval=0.5
        )
    with contextlib.suppress(DeadlineExceededError):
        await wait_until(mailed, timeout=options.email_wait, what="e-mail", interval=0.5)


async def start_router_replicas(
    options: BenchOptions, count: int, urls: dict[str, str]
) -> list[EmbeddedStack]:
    """Extra router processes (uvicorn, same settings as `make run`'s) in the router's consumer
    group; returns when the group shares the partitions among all of them."""
    stacks = []
    for i in range(2, count + 1):
        config = StackConfig(
            data_dir=options.data_dir.resolve(),
            ports=replace(StackPorts.from_env(), router=free_port()),
            log_dir=options.out_dir / "logs" / f"router-{i}",
            topic_prefix=options.topic_prefix,
        )
        stack = EmbeddedStack(config)
        await stack.start_service("router", timeout=120)
        stacks.append(stack)
        urls[f"router-{i}"] = config.url("router")
    routers = {name: url for name, url in urls.items() if name.startswith("router")}

    async def shared() -> bool:
        sampler = MetricsSampler(routers)
        async with httpx.AsyncClient(timeout=5) as client:
            counts = await partition_counts(sampler, client)
        return len(counts) == len(routers) and all(c > 0 for c in counts.values())

    await wait_until(shared, timeout=90, what="the routers to share the partitions", interval=1)
    return stacks


async def partition_counts(sampler: MetricsSampler, client: httpx.AsyncClient) -> dict[str, int]:
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[str, int] = {}
    for name, url in sampler.urls.items():
        text = (await client.get(f"{url}/metrics")).text
        counts[name] = sum(
            1
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "helpdesk_consumer_lag"
        )
    return counts


async def run(options: BenchOptions, created: Created | None = None) -> BenchRun:
    """`created` records the accounts, tickets, events and topics as the run makes them."""
    created = created if created is not None else Created()
    run_id = uuid4().hex[:6]
    topics = Topics(options.topic_prefix)
    urls = dict(options.urls)
    await check_stack(urls)
    http_n = options.http_n if options.http_n is not None else options.n
    accounts = bench_accounts(run_id, math.ceil(max(options.n, http_n) / REQUESTS_PER_ACCOUNT))
    created.add_accounts(accounts)
    await seed_accounts(options.mongo_url, accounts)

    sampler = MetricsSampler(urls)
    watchers = Watchers(
        team=TeamTopicWatcher(options.kafka, [topics.team(t) for t in load_catalog().teams]),
        history=HistoryWatcher(options.mongo_url),
        mail=MaildirWatcher(options.maildir) if options.maildir else None,
        sampler=sampler,
    )
    await watchers.team.start()
    if watchers.mail:
        await asyncio.to_thread(watchers.mail.skip_existing)
    tasks = [
        asyncio.create_task(watchers.team.run()),
        asyncio.create_task(watchers.history.run()),
        asyncio.create_task(sampler.run()),
    ]
    if watchers.mail:
        tasks.append(asyncio.create_task(watchers.mail.run()))

    phases: list[PhaseFigures] = []
    reference: PassThroughResult | None = None
    routers: dict[str, float] = {}
    history_rate = 0.0
    backlog: dict[str, float] = {}
    replicas: list[EmbeddedStack] = []
    alone: dict[str, AloneResult] = {}
    began = time.time()
    try:
        for phase in options.phases:
            if phase == "burst-2" and options.router_replicas < 2:
                continue
            progress(f"-- {phase} ...")
            if phase == "passthrough":
                events = submitted_events(run_id, options.n, accounts)
                reference = await pass_through(options.kafka, events, created.topics)
                progress(f"   {reference.rate:,.0f} records/s")
                continue
            if phase in ALONE_PHASES:
                if phase == "router-2" and options.router_replicas < 2:
                    continue
                events = submitted_events(run_id, options.n, accounts)
                created.tickets.update(e.ticket_id for e in events)
                created.event_ids.update(str(e.event_id) for e in events)
                measured = await router_alone(
                    phase,
                    kafka=options.kafka,
                    run_id=run_id,
                    events=events,
                    replicas=options.router_replicas,
                    data_dir=options.data_dir.resolve(),
                    log_dir=options.out_dir / "logs",
                    timeout=options.phase_timeout,
                    created_topics=created.topics,
                )
                alone[phase] = measured
                progress(
                    f"   {measured.rate:,.0f} records/s ({measured.arrived}/{measured.records})"
                )
                continue
            if phase == "burst-2":
                replicas = await start_router_replicas(options, options.router_replicas, urls)
            subs = Submissions()
            total = http_n if phase == "http" else options.n
            async with phase_bars(phase, total, _counts(subs, watchers)):
                phase_start = time.time()
                if sampler.samples:  # what the notifier still has to do from earlier phases
                    backlog[phase] = sampler.samples[-1].lag.get("notifier", 0.0)
                if phase == "http":

                    def accepted(ticket_id: str) -> None:
                        created.tickets.add(ticket_id)
                        watchers.history.expect([ticket_id])

                    await post_tickets(
                        urls["intake"],
                        http_n,
                        accounts,
                        options.http_rate,
                        options.concurrency,
                        subs,
                        on_accepted=accepted,
                    )
                    description = f"HTTP POST /v1/tickets, rate {options.http_rate or 'max'}"
                else:
                    rate = options.rate if phase == "kafka" else 0.0
                    events = submitted_events(run_id, options.n, accounts)
                    created.tickets.update(e.ticket_id for e in events)
                    created.event_ids.update(str(e.event_id) for e in events)
                    watchers.history.expect([e.ticket_id for e in events])
                    await produce_submitted(options.kafka, topics.submitted, events, rate, subs)
                    description = f"onto {topics.submitted}, rate {rate or 'max'}"
                progress(f"   sent {len(subs.sent)} in {subs.finished - subs.started:.1f} s")
                await wait_done(watchers, list(subs.sent), options)
            figures = phase_figures(
                phase,
                description,
                subs.sent,
                subs.started,
                subs.finished,
                {"intake": subs.accepted, **watchers.stages()}
                if phase == "http"
                else watchers.stages(),
                subs.errors,
            )
            phases.append(figures)
            if phase.startswith("burst"):
                team_times = sorted(
                    watchers.team.arrived[t] for t in subs.sent if t in watchers.team.arrived
                )
                if len(team_times) > 1:
                    routers[phase] = len(team_times) / (team_times[-1] - team_times[0])
                if phase == "burst":
                    history_rate = sampler.peak_rate(("history",), since=phase_start)
            if phase == "burst-2":
                for stack in replicas:
                    await stack.stop()
                replicas = []
    finally:
        for stack in replicas:
            await stack.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await watchers.team.stop()
        await watchers.history.stop()

    bench = summarise(options, phases, reference, routers, history_rate, sampler, began, alone)
    bench.result["notifier_lag_at_phase_start"] = backlog
    bench.result["run_id"] = run_id
    bench.result["accounts"] = {
        "prefix": f"{BENCH_ACCOUNT_PREFIX}{run_id}-",
        "count": len(accounts),
    }
    return bench


def summarise(
    options: BenchOptions,
    phases: list[PhaseFigures],
    reference: PassThroughResult | None,
    routers: dict[str, float],
    history_rate: float,
    sampler: MetricsSampler,
    began: float,
    alone: Mapping[str, AloneResult] | None = None,
) -> BenchRun:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    png = plot(phases, options.out_dir / f"bench-{stamp}.png")
    # The same work without the store, in this process: what the store costs is the gap.
    projection_cpu = round(events_per_second(sample_records(2000)), 1)
    rss = {name: round(v / MB, 1) for name, v in sampler.peak_rss().items()}
    one = routers.get("burst")
    two = routers.get("burst-2")
    ratio = one / reference.rate if one and reference and reference.rate else None
    alone = alone or {}
    alone_rates = {phase: r.rate for phase, r in alone.items() if r.rate}
    alone_one = alone_rates.get("router")
    alone_two = alone_rates.get("router-2")
    alone_off = alone_rates.get("router-depth-1")
    base = reference.rate if reference and reference.rate else None
    alone_speedup = alone_two / alone_one if alone_one and alone_two else None
    router_alone = {
        "phases": {phase: r.as_json() for phase, r in alone.items()},
        "vs_passthrough": {p: rate / base for p, rate in alone_rates.items()} if base else {},
        "two_routers_speedup": alone_speedup,
        "pipelining_speedup": alone_one / alone_off if alone_one and alone_off else None,
    }
    kafka = next((p for p in phases if p.phase == "kafka"), None)
    team = kafka.stage("team") if kafka else None
    targets = {
        "kafka_to_team_rate": _target(team.throughput if team else None, ">=", 1000),
        "kafka_to_team_p99_ms": _target(team.p99_ms if team else None, "<=", 250),
        # The router alone on the broker when measured (bench.alone), else the burst's.
        "router_vs_passthrough": _target(
            alone_one / base if alone_one and base else ratio, ">=", 0.5
        ),
        "two_routers_speedup": _target(
            alone_speedup or (two / one if one and two else None),
            ">=",
            1.6,
        ),
        "history_events_per_s": _target(history_rate or None, ">=", 2000),
        **{
            f"rss_mb_{name}": _target(rss.get(name), "<=", limit)
            for name, limit in RSS_LIMIT_MB.items()
        },
    }
    result = as_json(
        phases,
        {
            "n": options.n,
            "duration_s": time.time() - began,
            "passthrough_records_per_s": reference.rate if reference else None,
            "router_records_per_s": one,
            "router_vs_passthrough": ratio,
            "two_routers_records_per_s": two,
            "two_routers_speedup": two / one if one and two else None,
            "router_alone": router_alone,
            "history_events_per_s_peak_5s": history_rate or None,
            "history_projection_cpu_events_per_s": projection_cpu,
            "peak_rss_mb": rss,
            "targets": targets,
            "plot": str(png) if png else None,
        },
    )
    return BenchRun(result, phases, stamp, png)


def report(bench: BenchRun) -> str:
    """The table and the figures against the targets, as printed after a run."""
    result = bench.result
    reference = result["passthrough_records_per_s"]
    one, ratio = result["router_records_per_s"], result["router_vs_passthrough"]
    two = result["two_routers_records_per_s"]
    history_rate = result["history_events_per_s_peak_5s"]
    lines = [table(bench.phases), ""]
    if reference:
        lines.append(f"raw pass-through      {reference:>9,.0f} records/s (consume -> 2 produces)")
    if one:
        lines.append(
            f"router, 1 replica     {one:>9,.0f} records/s  = {ratio or 0:.0%} of pass-through"
        )
    if two:
        lines.append(
            f"router, 2 replicas    {two:>9,.0f} records/s  = x{two / one if one else 0:.2f}"
        )
    alone = result.get("router_alone") or {}
    for phase, figures in (alone.get("phases") or {}).items():
        share = (alone.get("vs_passthrough") or {}).get(phase)
        shown = f"  = {share:.0%} of pass-through" if share else ""
        lines.append(f"{phase + ' (alone)':<21} {figures['records_per_s']:>9,.0f} records/s{shown}")
        cpu = figures.get("cpu_share_of_cores") or {}
        top = sorted(cpu.items(), key=lambda kv: -kv[1])[:5]
        lines.append("  CPU over the span    " + ", ".join(f"{k} {v:.0%}" for k, v in top))
    if alone.get("two_routers_speedup"):
        lines.append(f"  two routers alone   x{alone['two_routers_speedup']:.2f}")
    if alone.get("pipelining_speedup"):
        lines.append(f"  pipelined vs depth 1 x{alone['pipelining_speedup']:.2f}")
    if history_rate:
        lines.append(
            f"history projection    {history_rate:>9,.0f} events/s (best 5 s during burst)"
        )
    cpu = result["history_projection_cpu_events_per_s"]
    lines.append(f"  the same, no store  {cpu:>9,.0f} events/s (decode + fold + document)")
    rss = result["peak_rss_mb"]
    lines += ["peak RSS (MB)         " + ", ".join(f"{k} {v}" for k, v in sorted(rss.items())), ""]
    for name, target in result["targets"].items():
        lines.append(f"target {name:<24} {target['verdict']:<5} {target['value']} {target['rule']}")
    return "\n".join(lines)


def _target(value: float | None, op: str, bound: float) -> dict[str, Any]:
    if value is None or math.isnan(value):
        verdict = "n/a"
    else:
        ok = value >= bound if op == ">=" else value <= bound
        verdict = "met" if ok else "MISS"
    shown = None if value is None or math.isnan(value) else round(value, 2)
    return {"value": shown, "rule": f"{op} {bound}", "verdict": verdict}


def default_urls(ports: StackPorts, host: str = "127.0.0.1") -> dict[str, str]:
    return {s: f"http://{host}:{ports.service(s)}" for s in SERVICES}
