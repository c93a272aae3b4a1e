"""python -m devstack.faults [--tickets N] [--only NAME ...]  (make faults [FAULTS_N=N])

Starts its own embedded stack on free ports (nothing else needs to run), then per scenario
sends N tickets (default 2,000; env FAULTS_N) while injecting the fault, and prints a table.
Exits 1 if any scenario lost or duplicated an effect or left a poison message outside a DLQ.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from devstack.faults.driver import SCENARIOS, Result, run_scenario
from devstack.faults.mail import run_mail_scenario
from devstack.faults.scheduler import run_scheduler_scenario
from devstack.stack import EmbeddedStack, StackConfig, StackPorts

# Customers' e-mail answers while the mail receiver is SIGKILLed: each accepted once.
MAIL_SCENARIO = "kill -9 mail receiver"
MAIL_REPLIES = 200
# History's scheduler SIGKILLed while N timers are due: each fires exactly once.
SCHEDULER_SCENARIO = "kill -9 scheduler"

HEADER = ("scenario", "sent", "routed", "e-mails", "history", "lost", "dup", "poison→DLQ", "s")


def table(results: list[Result]) -> str:
    rows = [
        (
            r.scenario,
            str(r.sent),
            "-" if r.routed is None else str(r.routed),
            "-" if r.emails is None else str(r.emails),
            str(r.history),
            str(r.lost),
            str(r.duplicated),
            f"{r.poison_parked}/{r.poison}" if r.poison else "-",
            f"{r.seconds:.0f}",
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADER)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in rows]
    notes = [f"- {r.scenario}: {n}" for r in results for n in r.notes]
    return "\n".join(out + notes)


def machine() -> str:
    return f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, {platform.system()})"


# The scenario whose fault may re-send the notifier's in-flight mails (docs/reliability.md).
NOTIFIER_KILL = "kill -9 notifier"


def notifier_concurrency(given: int | None) -> int:
    """--notifier-concurrency, else NOTIFIER_CONCURRENCY as exported, else the default."""
    if given is not None:
        return given
    from notifier.settings import NotifierSettings

    return NotifierSettings().concurrency


async def run(count: int, only: list[str], keep: Path | None, concurrency: int) -> list[Result]:
    data_dir = keep or Path(tempfile.mkdtemp(prefix="faults-"))
    config = StackConfig(
        data_dir=data_dir,
        ports=StackPorts.free(),
        log_dir=data_dir / "logs",
        extra_env={
            "NOTIFIER_RETRY_BASE_SECONDS": "0.5",
            "NOTIFIER_RETRY_MAX_DELAY_SECONDS": "5",
            "NOTIFIER_RETRY_MAX_ATTEMPTS": "30",  # outlasts the 30 s SMTP outage
            "INTAKE_RATE_LIMIT_TICKETS": "1000000",
            "INTAKE_ACTIVITY_RATE_LIMIT": "1000000",
            "NOTIFIER_CONCURRENCY": str(concurrency),
        },
    )
    results: list[Result] = []
    async with EmbeddedStack(config) as stack:
        await stack.start_infrastructure()
        await stack.start_services()
        print(f"stack up; logs in {config.log_dir}", flush=True)
        for name, (fault, poison) in SCENARIOS.items():
            if only and not any(o.lower() in name.lower() for o in only):
                continue
            print(f"-- {name}: {count} tickets", flush=True)
            window = concurrency if name == NOTIFIER_KILL else 0
            result = await run_scenario(stack, name, count, fault, poison, mail_window=window)
            results.append(result)
            print(table([result]), flush=True)
        if not only or any(o.lower() in MAIL_SCENARIO.lower() for o in only):
            print(f"-- {MAIL_SCENARIO}: {MAIL_REPLIES} e-mail answers", flush=True)
            result = await run_mail_scenario(stack, MAIL_SCENARIO, MAIL_REPLIES)
            results.append(result)
            print(table([result]), flush=True)
        if not only or any(o.lower() in SCHEDULER_SCENARIO.lower() for o in only):
            print(f"-- {SCHEDULER_SCENARIO}: {count} due timers", flush=True)
            result = await run_scheduler_scenario(stack, SCHEDULER_SCENARIO, count)
            results.append(result)
            print(table([result]), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.faults", description=__doc__)
    parser.add_argument("--tickets", type=int, default=int(os.environ.get("FAULTS_N", "2000")))
    parser.add_argument("--only", action="append", default=[], help="scenarios containing this")
    parser.add_argument("--data-dir", type=Path, help="keep the stack's data and logs here")
    parser.add_argument(
        "--notifier-concurrency",
        type=int,
        help="NOTIFIER_CONCURRENCY of the stack's notifier (default: as exported, else the"
        " notifier's default)",
    )
    args = parser.parse_args(argv)
    concurrency = notifier_concurrency(args.notifier_concurrency)
    started = datetime.now(UTC)
    results = asyncio.run(run(args.tickets, args.only, args.data_dir, concurrency))
    print(
        f"\n{started:%Y-%m-%d %H:%M} UTC, {machine()}, {args.tickets} tickets per scenario,"
        f" NOTIFIER_CONCURRENCY={concurrency}"
    )
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
