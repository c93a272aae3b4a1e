"""`make bench` sets this run beside the previous one, and draws a bar per stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.bench.bars import phase_bars
from devstack.bench.compare import comparison, previous_result

pytestmark = pytest.mark.unit


def result(router: float, team_rate: float, p99: float) -> dict[str, object]:
    return {
        "router_records_per_s": router,
        "duration_s": 200.0,
        "phases": [
            {
                "phase": "kafka",
                "stages": [{"stage": "team", "throughput": team_rate, "p99_ms": p99}],
            }
        ],
    }


def test_the_change_is_shown_with_which_way_is_better() -> None:
    text = comparison(result(400, 500, 800), result(600, 450, 400), "bench-1.json")
    lines = {line.split("  ")[1].strip(): line for line in text.splitlines()[1:]}
    assert "+50% better" in lines["router, 1 replica"]
    assert "-10% worse" in lines["kafka -> team rate"]
    assert "-50% better" in lines["kafka -> team p99"]  # lower latency is better
    assert "same" in lines["duration"]
    assert text.startswith("compared with bench-1.json:")


def test_the_previous_run_is_the_latest_readable_file(tmp_path: Path) -> None:
    assert previous_result(tmp_path) is None
    (tmp_path / "bench-20261201T100000Z.json").write_text(json.dumps(result(1, 1, 1)))
    (tmp_path / "bench-20261202T100000Z.json").write_text("{ not json")
    found = previous_result(tmp_path)
    assert found is not None
    assert found[0].name == "bench-20261201T100000Z.json"


async def test_a_bar_follows_its_count_and_stops_at_the_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sent: list[str] = []
    counts = {"sent": lambda: len(sent)}
    async with phase_bars("kafka", 3, counts, interval=0.01, shown=True) as bars:
        sent += ["a", "b", "c", "d"]
    assert bars["sent"].n == 3  # more than the total shows as the total
    assert "kafka    sent" in capsys.readouterr().err
