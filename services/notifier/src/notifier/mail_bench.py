"""The notifier's mail rate on the embedded stack: its real service code (notifier.app.wire:
MongoDB ledger, SMTP mailer, Kafka publisher) against SecantusDB, the Maildir SMTP server and
Tansu, each its own process as `make run` starts them, fed N mails' worth of events through the
batch handler (`handle_records`, as the consumer calls it). Reports mails/s, store round trips
per mail (PyMongo command monitoring) and the CPU each process spent, per NOTIFIER_CONCURRENCY.

    uv run python -m notifier.mail_bench [--mails 2000] [--concurrency 1 --concurrency 16 ...]
    make bench-mail [MAIL_N=2000]

The events: every request's TicketSubmitted (the acknowledgement) and, for every second
request, an AgentReplied after it in the same batch (its reply, which must go out after the
acknowledgement); batches of NOTIFIER_BATCH_MAX_RECORDS (200) records. Each concurrency runs
on a database of its own. The machine is shared with the three servers (and anything else
running): compare the figures of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from notifier.app import SERVICE, wire
from notifier.settings import NotifierSettings
from shared.contracts.events import AgentReplied, Envelope, TicketSubmitted, new_ticket_id
from shared.kafka.broker import create_broker
from shared.kafka.publishing import event_headers, event_key
from shared.kafka.records import InboundRecord
from shared.logging import configure_logging
from shared.mongo import RoundTrips, create_mongo_client

if TYPE_CHECKING:
    from devstack.stack import EmbeddedStack

ACCOUNTS = ("acc-1001", "acc-1002")  # demo accounts with verified addresses


def sample_events(mails: int, tag: str) -> list[tuple[str, Envelope]]:
    """(topic, event) in consumption order: `mails` mails, a reply after every second
    acknowledgement of the same request."""
    events: list[tuple[str, Envelope]] = []
    n = 0
    while len(events) < mails:
        ids = {
            "ticket_id": new_ticket_id(),
            "account_id": ACCOUNTS[n % len(ACCOUNTS)],
            "correlation_id": f"mail-bench-{tag}-{n}",
        }
        events.append(
            (
                "tickets.submitted",
                TicketSubmitted(
                    **ids,
                    category="cards",
                    subject=f"Mail bench {tag} #{n}",
                    description="I ordered a card three weeks ago and it has not arrived.",
                ),
            )
        )
        if n % 2 == 1 and len(events) < mails:
            events.append(
                (
                    "tickets.activity",
                    AgentReplied(**ids, agent_id="agent-1", body="Your card was sent today."),
                )
            )
        n += 1
    return events


def records_of(events: Sequence[tuple[str, Envelope]]) -> list[InboundRecord]:
    return [
        InboundRecord(
            topic=topic,
            partition=0,
            offset=offset,
            key=event_key(event).encode(),
            value=event.model_dump_json().encode(),
            headers=event_headers(event),
        )
        for offset, (topic, event) in enumerate(events)
    ]


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mails_in(maildir: Path) -> int:
    new = maildir / "new"
    return sum(1 for _ in new.iterdir()) if new.exists() else 0


async def measure(stack: EmbeddedStack, mails: int, concurrency: int, batch: int) -> dict[str, Any]:
    config = stack.config
    tag = uuid4().hex[:6]
    settings = NotifierSettings(
        mongo_url=config.mongo_url,
        database=f"mail_bench_{tag}",
        kafka_bootstrap_servers=config.kafka_bootstrap,
        kafka_enable_idempotence=False,
        smtp_host=config.host,
        smtp_port=config.ports.smtp,
        concurrency=concurrency,
        batch_max_records=batch,
    )
    trips = RoundTrips()
    mongo = create_mongo_client(settings, SERVICE, listeners=[trips])
    broker = create_broker(settings, SERVICE)
    outcomes: Counter[str] = Counter()
    wiring = wire(settings, mongo, broker, on_outcome=lambda _, outcome: outcomes.update([outcome]))
    records = records_of(sample_events(mails, tag))
    await broker.connect()
    try:
        await wiring.ledger.ensure_indexes()
        before_mails = mails_in(config.maildir)
        pids = {name: stack.processes[name].pid for name in ("mongo", "smtp", "kafka")}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        own_before = time.process_time()
        trips.take()
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            await wiring.service.handle_records(records[start : start + batch])
        elapsed = time.perf_counter() - started
        commands = trips.take()
        own = time.process_time() - own_before
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        delivered = mails_in(config.maildir) - before_mails
    finally:
        await wiring.mailer.close()
        await broker.stop()
        await mongo.close()
    return {
        "concurrency": concurrency,
        "mails": mails,
        "delivered": delivered,
        "outcomes": dict(outcomes),
        "seconds": round(elapsed, 2),
        "mails_per_s": round(mails / elapsed, 1),
        "round_trips_per_mail": round(len(commands) / mails, 3),
        "round_trips": dict(Counter(commands).most_common()),
        "smtp_connections": wiring.mailer.opened,
        "cpu_ms_per_mail": {
            "notifier": round(own * 1000 / mails, 2),
            **{name: round(seconds * 1000 / mails, 2) for name, seconds in cpu.items()},
        },
    }


async def run(mails: int, concurrencies: Sequence[int], batch: int) -> list[dict[str, Any]]:
    # The development stack (a workspace package, not one of the service's dependencies).
    from devstack.stack import EmbeddedStack, StackConfig, StackPorts

    data_dir = Path(tempfile.mkdtemp(prefix="mail-bench-"))
    config = StackConfig(data_dir=data_dir, ports=StackPorts.free(), log_dir=data_dir / "logs")
    results = []
    async with EmbeddedStack(config) as stack:
        await stack.start_infrastructure()
        for concurrency in concurrencies:
            result = await measure(stack, mails, concurrency, batch)
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=int(os.environ.get("MAIL_N", "2000")))
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="NOTIFIER_CONCURRENCY to measure; repeat for several (default: 1, 4 and 16)",
    )
    parser.add_argument("--batch", type=int, default=NotifierSettings().batch_max_records)
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the service's log level (INFO: its line per mail too, on stderr)",
    )
    args = parser.parse_args(argv)
    configure_logging(SERVICE, fmt="json", level=args.log_level)
    results = asyncio.run(run(args.mails, args.concurrency or [1, 4, 16], args.batch))
    print()
    print("| concurrency | mails | delivered | mails/s | round trips/mail | notifier ms/mail |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['concurrency']} | {r['mails']} | {r['delivered']} | {r['mails_per_s']} |"
            f" {r['round_trips_per_mail']} | {r['cpu_ms_per_mail']['notifier']} |"
        )


if __name__ == "__main__":
    main()
