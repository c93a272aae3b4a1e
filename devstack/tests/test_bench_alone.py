"""The router-alone phases' pieces, without a stack: what each phase starts, the CPU read
from /proc, and the figures as written to the JSON."""

from __future__ import annotations

import os

import pytest

from devstack.bench.alone import ALONE_PHASES, AloneResult, cpu_by_process, phase_shape
from devstack.bench.runner import PHASES

pytestmark = pytest.mark.unit


def test_each_phase_says_how_many_routers_and_how_deep() -> None:
    assert phase_shape("router", 2) == (1, 3)  # pipelined
    assert phase_shape("router-depth-1", 2) == (1, 1)  # pipelining off (the default)
    assert phase_shape("router-2", 2) == (2, None)
    assert phase_shape("router-2", 3) == (3, None)
    # Measured right after the pass-through, before the phases that leave consumers busy.
    assert PHASES[: 1 + len(ALONE_PHASES)] == ("passthrough", *ALONE_PHASES)


def test_the_cpu_of_a_named_process_is_read_from_proc() -> None:
    sum(i * i for i in range(200_000))  # some CPU of our own
    seconds = cpu_by_process({os.getpid(): "me"})
    assert seconds["me"] > 0


def test_the_json_has_the_rate_and_the_share_of_the_cores() -> None:
    result = AloneResult(
        phase="router",
        replicas=1,
        depth=None,
        records=100,
        arrived=100,
        seconds=0.5,
        span_seconds=1.0,
        cpu_seconds={"router (bench 1)": 0.8, "tansu": 0.2},
    )
    data = result.as_json()
    assert data["records_per_s"] == 200.0
    cores = os.cpu_count() or 1
    assert data["cpu_share_of_cores"]["router (bench 1)"] == round(0.8 / cores, 3)
