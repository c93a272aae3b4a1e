"""Child-process supervision with asyncio: each child in its own process group, its output
prefixed or written to a log file, stopped with SIGTERM then SIGKILL, and never outliving the
supervisor (PR_SET_PDEATHSIG), so Ctrl-C leaves no process and no port behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ManagedProcess:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    log_file: Path | None = None  # None: prefix lines onto our stdout
    process: asyncio.subprocess.Process | None = None
    _pump: asyncio.Task[None] | None = None
    _log_handle: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        full_env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self.log_file.open("ab")
            stdout: int | IO[bytes] = self._log_handle
        else:
            stdout = asyncio.subprocess.PIPE
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            env=full_env,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_child_setup,
        )
        if self.log_file is None:
            self._pump = asyncio.create_task(self._prefix_output())

    async def _prefix_output(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        prefix = f"{self.name:>9} | ".encode()
        async for line in self.process.stdout:
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.flush()

    def signal(self, sig: int) -> None:
        if self.running and self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    async def stop(self, timeout: float = 10.0) -> int | None:
        if self.process is None:
            return None
        if self.running:
            self.signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.signal(signal.SIGKILL)
                await self.process.wait()
        # The group may hold grandchildren; make sure none survives.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self._pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._log_handle is not None:
            self._log_handle.close()
        return self.process.returncode

    async def kill(self) -> None:
        """SIGKILL, as a crash would: no drain, no commit."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            await self.process.wait()
