"""Every shell example in README.md runs as written, against the four services.

Each ```bash block of the README runs in order in bash (`set -euo pipefail`), sharing the
variables the blocks before it set, from the repository's root. A block marked on the line
before its fence with `<!-- not run: <why> -->` is skipped (compose needs a Docker engine,
the benchmark takes minutes). The stack under test runs on other ports than `make run`, so
the test exports KAFKA_PORT, MONGO_PORT and the services' *_PORT (every make target honours
them) and rewrites the README's `127.0.0.1:800x` and `.data/mail` to this stack's; nothing
else is changed.

A block that only reads may find the system still at work (the history lags the intake by
a moment), so it is run again until it succeeds or a deadline passes; a block that writes
must succeed the first time.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.stack import SERVICES, EmbeddedStack, StackPorts

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```bash\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<why>[^>]+?)\s*-->\s*$")
WRITES = re.compile(r"-X\s+POST|\s-F\s|\s-d\s|--data|make (replay|redrive)")
READ_DEADLINE = 30.0
BLOCK_TIMEOUT = 120.0


@dataclass(frozen=True)
class Example:
    line: int
    body: str
    skipped: str | None  # why, when marked not to run

    @property
    def writes(self) -> bool:
        return bool(WRITES.search(self.body))


def examples(text: str) -> list[Example]:
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NOT_RUN.search(before)
        line = text[: match.start()].count("\n") + 1
        found.append(Example(line, match["body"], marker["why"] if marker else None))
    return found


def localised(body: str, stack: EmbeddedStack) -> str:
    defaults = StackPorts()
    for service in SERVICES:
        body = body.replace(f"127.0.0.1:{defaults.service(service)}", stack.config.url(service)[7:])
    return body.replace(".data/mail", str(stack.config.maildir))


def test_the_readme_marks_only_what_cannot_run_here() -> None:
    found = examples(README.read_text())
    assert found, "the README has no shell examples"
    for example in found:
        if example.skipped is not None:
            why = example.skipped
            allowed = r"docker|minutes|Ctrl-C|needs a dead letter|needs a cluster"
            assert re.search(allowed, why, re.I), (
                f"README line {example.line}: an example is skipped for {why!r}"
            )


async def test_every_readme_example_runs_as_written(
    services: EmbeddedStack, tmp_path: Path
) -> None:
    ports = services.config.ports
    # A reader's shell: the system python3 first (make bootstraps uv from it), not the
    # virtualenv pytest runs in.
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(str(ROOT / ".venv"))
    )
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {
        "PATH": path,
        "KAFKA_PORT": str(ports.kafka),
        "MONGO_PORT": str(ports.mongo),
        "SMTP_PORT": str(ports.smtp),
        "MAIL_PORT": str(ports.mail),
        "MAIL_HTTP_PORT": str(ports.intake_mail),
        **{f"{s.upper()}_PORT": str(ports.service(s)) for s in SERVICES},
    }
    state = tmp_path / "state.sh"
    state.touch()
    ran = 0
    for example in examples(README.read_text()):
        if example.skipped:
            continue
        script = "\n".join(
            [
                # What bash and the environment define, so that only the README's own
                # variables (TOKEN, TICKET, ...) are carried on to the next block.
                '__BASE=" $(compgen -v | tr "\\n" " ") "',
                f"source {shlex.quote(str(state))}",
                "set -euo pipefail",
                localised(example.body, services),
                "for __v in $(compgen -v); do",
                '  case "$__BASE" in *" $__v "*) continue;; esac',
                '  [[ $__v =~ ^[A-Z][A-Z0-9_]*$ ]] && declare -p "$__v"',
                f"done > {shlex.quote(str(state))}.next || true",
            ]
        )
        deadline = time.monotonic() + (0 if example.writes else READ_DEADLINE)
        while True:
            code, output = await run(script, env)
            if code == 0 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)  # the system is still at work: look again
        assert code == 0, f"README line {example.line} failed ({code}):\n{example.body}\n{output}"
        await asyncio.to_thread(Path(f"{state}.next").replace, state)
        ran += 1
    assert ran >= 5


async def run(script: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), BLOCK_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")[-4000:]
