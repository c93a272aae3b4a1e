"""`python -m devstack.bench` (make bench): see devstack.bench.runner for the phases."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from devstack.bench.runner import PHASES, BenchOptions, default_urls, run
from devstack.stack import SERVICES, StackPorts


def parse(argv: list[str] | None = None) -> BenchOptions:
    ports = StackPorts.from_env()  # the same variables `make run` reads
    parser = argparse.ArgumentParser(
        prog="python -m devstack.bench",
        description="Benchmark the running stack (make run, or compose with --maildir '').",
    )
    parser.add_argument("-n", "--requests", type=int, default=20_000, help="requests per phase")
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
        "--email-wait", type=float, default=120, help="seconds to wait for e-mails per phase"
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
    )


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    result = asyncio.run(run(options))
    options.out_dir.mkdir(parents=True, exist_ok=True)
    path = options.out_dir / Path(result["plot"]).with_suffix(".json").name
    path.write_text(json.dumps(result, indent=2))
    print()
    print(json.dumps(result, indent=2))
    print(f"\nJSON: {path}\nplot: {result['plot']}")


if __name__ == "__main__":
    main()
