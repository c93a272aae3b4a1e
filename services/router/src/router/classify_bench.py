"""Latency of `POST /v1/classify` over real HTTP, one text per call, one call at a time; prints
ONE JSON object (p50 / p95 / p99 / max in milliseconds).

    uv run python -m router.classify_bench [--requests 2000] [--warmup 100] [--seed 0]
        [--url http://127.0.0.1:8002 --token TOKEN] [--data FILE.csv] [--account ID]

Without --url it starts a router of its own as a child process (uvicorn, the router's HTTP app
as `make run` serves it: same middlewares, same model artifact `ROUTER_MODEL_PATH`, but without
Kafka, which classification does not touch) on a free port, and stops it afterwards. With
--url it measures a running router (e.g. `make run`'s; --token or ROUTER_CLASSIFY_TOKEN, else
the development token). The texts are the development hold-out's (services/router/data/
dev_holdout.csv) in a seeded order, so the share of texts the sentence encoder re-scores is the
real one; --account adds an account id, hence a directory lookup, to every call.

A benchmark, not a test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from router.classifier.data import DEV_HOLDOUT_CSV
from shared.contracts.classification import MAX_CLASSIFY_TEXT
from shared.settings import DEVELOPMENT_CLASSIFY_TOKEN

TARGET_P99_MS = 30.0
START_TIMEOUT = 120.0


def http_app() -> FastAPI:
    """The router's HTTP app without its Kafka wrapper (uvicorn factory of the child)."""
    from router.app import build
    from router.settings import RouterSettings

    return build(RouterSettings()).http


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def own_router(token: str) -> Iterator[tuple[str, int]]:
    """A router HTTP process on a free port; yields its base URL and pid once /healthz
    answers."""
    port = _free_port()
    env = {**os.environ, "ROUTER_CLASSIFY_TOKEN": token, "ROUTER_LOG_LEVEL": "WARNING"}
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "router.classify_bench:http_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--http",
        "shared.http.server:GuardedH11Protocol",
    ]
    child = subprocess.Popen(argv, env=env)  # noqa: S603 - our interpreter, fixed arguments
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the router exited with {child.returncode} while starting")
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the router did not answer within {START_TIMEOUT:.0f} s")
            time.sleep(0.2)
        yield url, child.pid
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, min(len(sorted_ms), math.ceil(q / 100 * len(sorted_ms))))
    return sorted_ms[rank - 1]


def measure(
    url: str,
    token: str,
    texts: Sequence[str],
    *,
    requests: int,
    warmup: int,
    account: str | None,
    server_pid: int | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    bodies: list[dict[str, Any]] = [
        {"description": text[:MAX_CLASSIFY_TEXT], **({"account_id": account} if account else {})}
        for text in texts
    ]
    latencies: list[float] = []
    answer: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=10.0) as client:  # keep-alive
        for i in range(warmup):
            client.post("/v1/classify", json=bodies[i % len(bodies)]).raise_for_status()
        cpu_before = cpu_seconds(server_pid) if server_pid else None
        for i in range(warmup, warmup + requests):
            started = time.perf_counter()
            response = client.post("/v1/classify", json=bodies[i % len(bodies)])
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            answer = response.json()
        cpu_after = cpu_seconds(server_pid) if server_pid else None
    latencies.sort()
    return {
        "requests": len(latencies),
        "warmup": warmup,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(latencies[-1], 2),
        "mean_ms": round(sum(latencies) / len(latencies), 2),
        "target_p99_ms": TARGET_P99_MS,
        "met": percentile(latencies, 99) <= TARGET_P99_MS,
        "model_version": answer.get("model_version"),
        # The server's own cost, whatever else the machine runs (own router only).
        "server_cpu_ms_per_call": (
            round((cpu_after - cpu_before) * 1000 / len(latencies), 2)
            if cpu_before is not None and cpu_after is not None
            else None
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="order of the texts")
    parser.add_argument("--url", default=None, help="a running router (default: start one)")
    parser.add_argument("--token", default=None, help="its classify token")
    parser.add_argument("--data", type=Path, default=DEV_HOLDOUT_CSV, help="CSV with `text`")
    parser.add_argument("--account", default=None, help="account id sent with every call")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1 and --warmup at least 0")
    with args.data.open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    random.Random(args.seed).shuffle(texts)  # noqa: S311 - an order of texts, not a secret
    options = {"requests": args.requests, "warmup": args.warmup, "account": args.account}
    if args.url:
        token = args.token or os.environ.get("ROUTER_CLASSIFY_TOKEN", DEVELOPMENT_CLASSIFY_TOKEN)
        report = measure(args.url.rstrip("/"), token, texts, **options)
        report["router"] = args.url
    else:
        token = secrets.token_urlsafe(32)
        with own_router(token) as (url, pid):
            report = measure(url, token, texts, server_pid=pid, **options)
        report["router"] = "own process (HTTP only)"
    report["cpus"] = os.cpu_count()
    report["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
