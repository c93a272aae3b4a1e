"""`python -m devstack.bench` (make bench): see devstack.bench.runner for the phases.

stdout: the report (table, figures against the targets, the change from the previous run's
JSON in the output directory) and the paths of the files written (`<out-dir>/bench-<time>.json`
with every figure, and the plot); progress goes to stderr (a bar per stage on a terminal).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from devstack.bench.cleanup import Created, Removed, cleanup
from devstack.bench.compare import comparison, previous_result
from devstack.bench.runner import (
    PHASES,
    BenchOptions,
    BenchRun,
    default_urls,
    progress,
    report,
    run,
)
from devstack.stack import SERVICES, StackPorts


def parse(argv: list[str] | None = None) -> BenchOptions:
    ports = StackPorts.from_env()  # the same variables `make run` reads
    parser = argparse.ArgumentParser(
        prog="python -m devstack.bench",
        description="Benchmark the running stack (make run, or compose with --maildir '').",
    )
    # Sized for a run of minutes on two cores (20,000 per phase took over 25 minutes).
    parser.add_argument("-n", "--requests", type=int, default=2_000, help="requests per phase")
    parser.add_argument("--http-requests", type=int, help="requests in the HTTP phase (default n)")
    parser.add_argument("--rate", type=float, default=1000, help="kafka phase, req/s (0: max)")
    parser.add_argument("--http-rate", type=float, default=0, help="HTTP phase, req/s (0: max)")
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP connections")
    parser.add_argument("--router-replicas", type=int, default=2, help="routers in burst-2")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated, of {','.join(PHASES)}"
    )
    parser.add_argument("--kafka", default=f"127.0.0.1:{ports.kafka}")
    parser.add_argument(
        "--mongo-url", default=f"mongodb://127.0.0.1:{ports.mongo}/?directConnection=true"
    )
    parser.add_argument("--maildir", default=".data/mail", help="'' to skip the e-mail stage")
    parser.add_argument("--topic-prefix", default=os.environ.get("TOPIC_PREFIX", ""))
    parser.add_argument("--data-dir", type=Path, default=Path(".data"))
    parser.add_argument("--out-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument("--phase-timeout", type=float, default=900)
    parser.add_argument(
        "--email-wait", type=float, default=30, help="seconds to wait for e-mails per phase"
    )
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="afterwards, remove the run's accounts, their requests (history, intake), the "
        "notifier's ledger entries of them and their mails (devstack.bench.cleanup)",
    )
    parser.add_argument(
        "--cleanup-wait",
        type=float,
        default=600,
        help="--cleanup: seconds at most to wait for the consumers to drain first",
    )
    for service in SERVICES:
        parser.add_argument(f"--{service}-url", default=default_urls(ports)[service])
    args = parser.parse_args(argv)
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}")
    return BenchOptions(
        n=args.requests,
        http_n=args.http_requests,
        rate=args.rate,
        http_rate=args.http_rate,
        concurrency=args.concurrency,
        router_replicas=args.router_replicas,
        phases=phases,
        kafka=args.kafka,
        mongo_url=args.mongo_url,
        maildir=Path(args.maildir) if args.maildir else None,
        urls={s: getattr(args, f"{s}_url") for s in SERVICES},
        topic_prefix=args.topic_prefix,
        data_dir=args.data_dir,
        out_dir=args.out_dir,
        phase_timeout=args.phase_timeout,
        email_wait=args.email_wait,
        cleanup=args.cleanup,
        cleanup_wait=args.cleanup_wait,
    )


def write_json(options: BenchOptions, bench: BenchRun) -> Path:
    options.out_dir.mkdir(parents=True, exist_ok=True)
    path = options.out_dir / f"bench-{bench.stamp}.json"
    path.write_text(json.dumps(bench.result, indent=2) + "\n")
    return path


async def remove(options: BenchOptions, created: Created) -> Removed:
    progress("-- cleanup ...")
    removed = await cleanup(
        created,
        mongo_url=options.mongo_url,
        kafka=options.kafka,
        maildir=options.maildir,
        urls=options.urls,
        wait=options.cleanup_wait,
    )
    if not removed.drained:
        progress(
            f"   the consumers still lagged after {options.cleanup_wait:.0f} s: events of the"
            " run still in flight may re-create some of what was removed"
        )
    return removed


async def bench(options: BenchOptions) -> None:
    created = Created()
    try:
        done = await run(options, created)
    except BaseException:
        if options.cleanup and created.accounts:
            await remove(options, created)
        raise
    previous = previous_result(options.out_dir)  # before this run's file is written
    print()
    print(report(done))
    print()
    if previous is not None:
        done.result["compared_with"] = previous[0].name
        print(comparison(previous[1], done.result, previous[0].name))
        print()
    path = write_json(options, done)
    print(f"JSON: {path}")
    print(f"plot: {done.plot}" if done.plot else "plot: none (nothing arrived to plot)")
    if options.cleanup:
        removed = await remove(options, created)
        done.result["cleanup"] = removed.counts | {"drained": removed.drained}
        write_json(options, done)
        print(f"cleanup: removed {removed.summary()}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(bench(parse(argv)))


if __name__ == "__main__":
    main()
