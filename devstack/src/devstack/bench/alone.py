"""The router alone on the broker: router processes of the bench's own (uvicorn, the settings
of `make run`'s), on topics of their own (`bench.<run>.<phase>.` prefix) and in a consumer group
of their own, so nothing else consumes what they read or write: the notifier and history of the
running stack never see these topics, and the stack's own router is not in the group.

Each phase fills nothing in advance: the routers start, join (the bench waits until the
partitions of their `tickets.submitted` are shared among them), then N requests are produced at
once and the rate is the arrivals on the team topics from the first to the last. The CPU every
process of the machine's stack used over that span is read from /proc (utime + stime).

router          one router, pipelined: ROUTER_PIPELINE_DEPTH=3
router-depth-1  one router, ROUTER_PIPELINE_DEPTH=1 (the default): each batch committed before
                the next is read
router-2        two routers in one group (--router-replicas), the default depth
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devstack.bench.observers import TeamTopicWatcher
from devstack.bench.workload import Submissions, produce_submitted
from devstack.stack import EmbeddedStack, StackConfig, StackPorts, free_port
from shared.contracts.catalog import load_catalog
from shared.contracts.events import TicketSubmitted
from shared.contracts.topics import Topics
from shared.kafka.admin import create_topics, topic_plan
from shared.waiting import DeadlineExceededError, wait_until

ALONE_PHASES = ("router", "router-depth-1", "router-2")
PIPELINED_DEPTH = 3
# What each process of the stack is, from its command line (make run's and the bench's).
PROCESS_NAMES = re.compile(
    r"tansu|secantusd|smtp_maildir|intake\.app|router\.app|notifier\.app|history\.app"
    r"|devstack\.bench|devstack run|devstack\.faults|pytest"
)
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class AloneResult:
    phase: str
    replicas: int
    depth: int | None  # None: the router's default
    records: int
    arrived: int
    seconds: float  # first arrival to last, on the team topics
    span_seconds: float  # first send to last arrival: what the CPU figures cover
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by process, over the span

    @property
    def rate(self) -> float:
        return self.arrived / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "replicas": self.replicas,
            "pipeline_depth": self.depth,
            "records": self.records,
            "arrived": self.arrived,
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.rate, 1),
            "span_seconds": round(self.span_seconds, 3),
            "cpu_seconds": {k: round(v, 2) for k, v in sorted(self.cpu_seconds.items())},
            "cpu_share_of_cores": {
                k: round(v / (self.span_seconds * (os.cpu_count() or 1)), 3)
                for k, v in sorted(self.cpu_seconds.items())
            }
            if self.span_seconds
            else {},
        }


def phase_shape(phase: str, replicas: int) -> tuple[int, int | None]:
    """(routers, pipeline depth) of a router-alone phase."""
    if phase == "router-2":
        return max(2, replicas), None
    if phase == "router-depth-1":
        return 1, 1
    return 1, PIPELINED_DEPTH


def cpu_by_process(own: Mapping[int, str]) -> dict[str, float]:
    """CPU seconds so far of every stack process (by name; several of one name add up)."""
    seconds: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        name = own.get(pid)
        if name is None:
            found = PROCESS_NAMES.search(cmdline)
            if found is None:
                continue
            name = found.group(0).replace(".app", "").replace("devstack.", "")
        # After the command name: state is field 3, utime 14, stime 15 (1-based).
        used = (int(fields[11]) + int(fields[12])) / TICKS
        seconds[name] = seconds.get(name, 0.0) + used
    return seconds


async def _submitted_partitions(urls: Mapping[str, str], topic: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        for name, url in urls.items():
            text = (await client.get(f"{url}/metrics")).text
            counts[name] = sum(
                1
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "helpdesk_consumer_lag" and s.labels.get("topic") == topic
            )
    return counts


async def start_routers(
    *,
    count: int,
    topics: Topics,
    group: str,
    depth: int | None,
    data_dir: Path,
    log_dir: Path,
    partitions: int,
) -> list[EmbeddedStack]:
    """`count` router processes on `topics`, in `group`; returns once every one of them
    holds some of the partitions of `topics.submitted` and all are held."""
    env = {"ROUTER_GROUP_ID": group}
    if depth is not None:
        env["ROUTER_PIPELINE_DEPTH"] = str(depth)
    stacks: list[EmbeddedStack] = []
    try:
        for i in range(1, count + 1):
            config = StackConfig(
                data_dir=data_dir,  # absolute: the process runs elsewhere
                ports=replace(StackPorts.from_env(), router=free_port()),
                log_dir=log_dir / f"router-{i}",
                topic_prefix=topics.prefix,
                extra_env=env,
            )
            stack = EmbeddedStack(config)
            stacks.append(stack)
            await stack.start_service("router", timeout=120)
        urls = {f"router-{i}": s.config.url("router") for i, s in enumerate(stacks, 1)}

        async def shared() -> bool:
            counts = await _submitted_partitions(urls, topics.submitted)
            return sum(counts.values()) == partitions and all(c > 0 for c in counts.values())

        await wait_until(
            shared, timeout=120, what="the routers to share the partitions", interval=1
        )
    except BaseException:
        for stack in stacks:
            await stack.stop()
        raise
    return stacks


async def router_alone(
    phase: str,
    *,
    kafka: str,
    run_id: str,
    events: list[TicketSubmitted],
    replicas: int,
    data_dir: Path,
    log_dir: Path,
    timeout: float,
    created_topics: list[str] | None = None,
) -> AloneResult:
    """One router-alone phase (see the module): N requests at once onto the phase's own
    tickets.submitted, measured on its own team topics."""
    count, depth = phase_shape(phase, replicas)
    topics = Topics(f"bench.{run_id}.{phase}.")
    teams = load_catalog().teams
    plan = topic_plan(topics, teams)
    await create_topics(kafka, plan)
    if created_topics is not None:
        created_topics += list(plan)
    watcher = TeamTopicWatcher(kafka, [topics.team(t) for t in teams])
    await watcher.start()
    stacks = await start_routers(
        count=count,
        topics=topics,
        group=f"bench-router-{run_id}-{phase}",
        depth=depth,
        data_dir=data_dir,
        log_dir=log_dir / phase,
        partitions=plan[topics.submitted],
    )
    watching = asyncio.create_task(watcher.run())
    try:
        own = {
            pid: f"router (bench {i})"
            for i, s in enumerate(stacks, 1)
            if (pid := s.processes["router"].pid) is not None
        }
        subs = Submissions()
        before = cpu_by_process(own)
        started = time.time()
        await produce_submitted(kafka, topics.submitted, events, 0.0, subs)
        tickets = [e.ticket_id for e in events]

        async def all_arrived() -> bool:
            return all(t in watcher.arrived for t in tickets)

        with contextlib.suppress(DeadlineExceededError):
            await wait_until(all_arrived, timeout=timeout, what=f"{phase} routed", interval=0.2)
        after = cpu_by_process(own)
        times = sorted(watcher.arrived[t] for t in tickets if t in watcher.arrived)
        last = times[-1] if times else time.time()
        return AloneResult(
            phase=phase,
            replicas=count,
            depth=depth,
            records=len(events),
            arrived=len(times),
            seconds=(times[-1] - times[0]) if len(times) > 1 else 0.0,
            span_seconds=last - started,
            cpu_seconds={
                name: used - before.get(name, 0.0)
                for name, used in after.items()
                if used - before.get(name, 0.0) > 0.005
            },
        )
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await watcher.stop()
        for stack in stacks:
            await stack.stop()
