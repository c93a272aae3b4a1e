"""`make run`'s supervisor as a person uses it: start, wait for the banner, Ctrl-C, nothing left."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from devstack.stack import StackPorts
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e


def process_cmdlines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return lines


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_run_prints_the_urls_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    ports = StackPorts.free()
    env = os.environ | {
        "KAFKA_PORT": str(ports.kafka),
        "MONGO_PORT": str(ports.mongo),
        "SMTP_PORT": str(ports.smtp),
        **{
            f"{s.upper()}_PORT": str(ports.service(s))
            for s in ("intake", "router", "notifier", "history")
        },
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devstack",
        "run",
        "--data-dir",
        str(tmp_path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []

    async def banner() -> bool:
        line = await asyncio.wait_for(process.stdout.readline(), 120)  # type: ignore[union-attr]
        output.append(line.decode(errors="replace"))
        if not line:
            raise AssertionError("supervisor exited:\n" + "".join(output[-40:]))
        return "Ctrl-C stops everything" in output[-1]

    await wait_until(banner, timeout=150, what="the ready banner", interval=0)
    rest = await asyncio.wait_for(process.stdout.read(2000), 5)
    text = "".join(output) + rest.decode(errors="replace")
    assert f"http://127.0.0.1:{ports.intake}/docs" in text
    assert f"http://127.0.0.1:{ports.history}/docs" in text
    assert "/asyncapi" in text
    assert "curl" in text

    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0

    port_strings = [str(getattr(ports, name)) for name in ports.__dataclass_fields__]
    leftovers = [
        c
        for c in process_cmdlines()
        if str(tmp_path) in c or any(f"--port {p}" in c or f":{p}" in c for p in port_strings)
    ]
    assert leftovers == []
    assert all(port_is_free(int(p)) for p in port_strings)
