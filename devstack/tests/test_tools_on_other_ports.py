"""The operator tools against a stack on other ports than the defaults, as a developer runs
them next to `make run KAFKA_PORT=... MONGO_PORT=...`: each command line comes from the
Makefile (`make -n`, so its targets are tested too) and runs with the stack's *_PORT
variables only, no HISTORY_*/INTAKE_*/... settings.

- `make replay` rebuilds the projection and prints its one-line report; HISTORY_* settings
  win over the ports; an unreachable Kafka or MongoDB is one line on stderr and exit 1;
- `make deadletters` lists, `make redrive` re-drives a dead letter;
- `make bench CLEANUP=1`, tiny: stdout holds the table and the files' paths (no JSON), the
  JSON file is written, and afterwards nothing of the run's accounts is left while every
  other account's requests and mails are.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devstack.bench.workload import BENCH_DOMAIN
from devstack.stack import SERVICES, EmbeddedStack, StackPorts, free_port
from shared.contracts.directory import ACCOUNTS_COLLECTION, DIRECTORY_DATABASE
from shared.kafka.dlq import read_dead_letters
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SETTING_PREFIXES = tuple(f"{s.upper()}_" for s in SERVICES)
REPORT = re.compile(
    r"^\d+ events from \d+ records into requests \(\d+ skipped, \d+ caught up after the swap\)"
    r" in [\d.]+s$"
)

Document = dict[str, Any]


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def port_env(stack: EmbeddedStack, **overrides: str) -> dict[str, str]:
    """This environment without any service's settings, plus the stack's *_PORT variables."""
    ports = stack.config.ports
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env |= {"KAFKA_PORT": str(ports.kafka), "MONGO_PORT": str(ports.mongo)}
    env |= {"SMTP_PORT": str(ports.smtp)}
    env |= {f"{s.upper()}_PORT": str(ports.service(s)) for s in SERVICES}
    return env | overrides


def make_command(target: str, env: dict[str, str], *variables: str) -> list[str]:
    """The Makefile's command line for `target`, run with this interpreter instead of uv."""
    dry = [shutil.which("make") or "make", "-s", "-n", "-o", ".venv/.synced", target, *variables]
    out = subprocess.run(dry, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    line = [x for x in out.stdout.splitlines() if " python -m " in x][-1]
    argv = shlex.split(line)
    return [sys.executable, *argv[argv.index("python") + 1 :]]


async def run(argv: list[str], env: dict[str, str], timeout: float = 60) -> Done:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Done(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def stack(services: EmbeddedStack) -> EmbeddedStack:
    config = services.config
    if config.external_kafka or config.external_mongo:
        pytest.skip("the *_PORT variables address the embedded stack, not testcontainers")
    if shutil.which("make") is None:
        pytest.skip("needs make, to read the Makefile's command lines")
    defaults = StackPorts()
    assert config.ports.kafka != defaults.kafka
    assert config.ports.mongo != defaults.mongo
    return services


@pytest.fixture
async def mongo(stack: EmbeddedStack) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(stack.config.mongo_url)
    yield client
    await client.close()


async def test_make_replay_finds_the_stack_by_its_ports(stack: EmbeddedStack) -> None:
    env = port_env(stack)
    done = await run(make_command("replay", env), env)
    assert done.returncode == 0, done.stderr
    assert REPORT.match(done.stdout.strip()), done.stdout
    assert "Traceback" not in done.stderr


async def test_history_settings_win_over_the_ports(stack: EmbeddedStack) -> None:
    env = port_env(
        stack,
        KAFKA_PORT=str(free_port()),
        MONGO_PORT=str(free_port()),
        HISTORY_KAFKA_BOOTSTRAP_SERVERS=stack.config.kafka_bootstrap,
        HISTORY_MONGO_URL=stack.config.mongo_url,
    )
    done = await run(make_command("replay", env), env)
    assert done.returncode == 0, done.stderr
    assert REPORT.match(done.stdout.strip()), done.stdout


@pytest.mark.parametrize("down", ["MongoDB", "Kafka"])
async def test_replay_without_its_stack_says_so_in_one_line(
    stack: EmbeddedStack, mongo: AsyncMongoClient[Document], down: str
) -> None:
    port = free_port()
    variable = "MONGO_PORT" if down == "MongoDB" else "KAFKA_PORT"
    env = port_env(stack, **{variable: str(port), "HISTORY_MONGO_TIMEOUT_MS": "1000"})
    collections = set(await mongo["history"].list_collection_names())
    done = await run([sys.executable, "-m", "history.replay"], env)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"history.replay: cannot reach {down} at 127.0.0.1:{port}")
    assert variable in lines[0]
    # nothing was written: no fresh collection left behind
    assert set(await mongo["history"].list_collection_names()) == collections


async def test_make_deadletters_and_redrive_on_the_stack_port(stack: EmbeddedStack) -> None:
    env = port_env(stack)
    listing = await run(make_command("deadletters", env, "TOPIC=tickets.submitted"), env)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith(("no dead letters", "topic ")), listing.stdout

    key = f"poison-{free_port()}".encode()
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("tickets.submitted", b"{not json", key=key)
    finally:
        await producer.stop()

    async def parked() -> list[str]:
        letters = await read_dead_letters(stack.config.kafka_bootstrap, ["tickets.submitted"])
        return [d.summary()["dlq"] for d in letters if d.key == key]

    positions = await wait_until(parked, timeout=30, what="the poison message in the DLQ")
    listing = await run(make_command("deadletters", env, "TOPIC=tickets.submitted"), env)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("topic "), listing.stdout
    assert positions[0] in listing.stdout
    assert "{not json" not in listing.stdout  # never the payload

    again = await run(
        make_command("redrive", env, "TOPIC=tickets.submitted", f"OFFSETS={positions[0]}"), env
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("re-drove 1 message(s) onto tickets.submitted"), again.stdout


def mail_files(maildir: Path) -> dict[str, str]:
    new = maildir / "new"
    return {p.name: p.read_text(errors="replace") for p in new.glob("*")} if new.is_dir() else {}


def bench_output(out: str, out_dir: Path) -> dict[str, Any]:
    """The report on stdout (the table, no JSON) and the JSON file it names, read."""
    assert re.search(r"^phase\s+stage\s+arrived\s+req/s\s+p50 ms", out, re.MULTILINE), out
    assert re.search(r"^kafka\s+\(sent\)\s+20\s", out, re.MULTILINE), out
    for stage in ("team", "history"):
        assert re.search(rf"^\s+{stage}\s+20/20\s", out, re.MULTILINE), out
    assert re.search(r"^\s+email\s+\d+/20\s", out, re.MULTILINE), out
    assert "{" not in out, out  # no JSON on stdout
    assert '"phases"' not in out, out
    assert "-- kafka ..." not in out  # progress goes to stderr
    written = re.search(r"^JSON: (.+)$", out, re.MULTILINE)
    assert written, out
    path = Path(written.group(1))
    assert path.parent == out_dir
    plot = re.search(r"^plot: (.+\.png)$", out, re.MULTILINE)
    assert plot, out
    assert Path(plot.group(1)).is_file()
    result: dict[str, Any] = json.loads(path.read_text())
    return result


async def test_make_bench_prints_its_table_writes_its_json_and_cleans_up(
    stack: EmbeddedStack, mongo: AsyncMongoClient[Document], tmp_path: Path
) -> None:
    config = stack.config
    requests = mongo["history"]["requests"]
    others_before = {d["_id"] async for d in requests.find({}, {"_id": 1})}
    mail_before = set(await asyncio.to_thread(mail_files, config.maildir))
    out_dir = tmp_path / "bench"
    args = [
        "--phases kafka",
        "--email-wait 20",
        "--cleanup-wait 30",
        f"--maildir {config.maildir}",
        f"--data-dir {config.data_dir}",
        f"--out-dir {out_dir}",
    ]
    env = port_env(stack)
    argv = make_command(
        "bench", env, "N=20", "RATE=50", "CLEANUP=1", f"BENCH_ARGS={' '.join(args)}"
    )
    assert "--cleanup" in argv
    done = await run(argv, env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "-- kafka ..." in done.stderr
    result = await asyncio.to_thread(bench_output, done.stdout, out_dir)
    assert [p["phase"] for p in result["phases"]] == ["kafka"]
    removed = result["cleanup"]
    assert removed["drained"] is True
    assert removed["accounts"] == result["accounts"]["count"] == 2
    assert removed["history requests"] == 20
    assert removed["ledger entries"] >= 20
    emailed = next(s for s in result["phases"][0]["stages"] if s["stage"] == "email")
    assert removed["mails"] >= emailed["arrived"] > 0
    assert re.search(r"^cleanup: removed 2 accounts, ", done.stdout, re.MULTILINE)

    prefix = result["accounts"]["prefix"]
    ids = [f"{prefix}{i:04d}" for i in range(1, result["accounts"]["count"] + 1)]
    assert await requests.count_documents({"account_id": {"$in": ids}}) == 0
    directory = mongo[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION]
    assert await directory.count_documents({"_id": {"$in": ids}}) == 0
    assert await mongo["intake"]["rate_limits"].count_documents({"_id": {"$in": ids}}) == 0
    mails = await asyncio.to_thread(mail_files, config.maildir)
    addresses = [f"{i}@{BENCH_DOMAIN}" for i in ids]
    assert not [n for n, text in mails.items() if any(a in text for a in addresses)]
    # nothing of anyone else
    assert others_before <= {d["_id"] async for d in requests.find({}, {"_id": 1})}
    assert mail_before <= set(mails)
    assert await directory.count_documents({"_id": "acc-1001"}) == 1
