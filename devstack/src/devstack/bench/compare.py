"""This run beside the previous one: the latest `bench-*.json` in the output directory, read
before this run's is written, and the headline figures of both with the change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (label, how to read it from a result, unit, higher is better)
FIGURES: tuple[tuple[str, tuple[str, ...], str, bool], ...] = (
    ("raw pass-through", ("passthrough_records_per_s",), "rec/s", True),
    ("router, 1 replica", ("router_records_per_s",), "rec/s", True),
    ("router, 2 replicas speed-up", ("two_routers_speedup",), "x", True),
    ("router alone", ("router_alone", "phases", "router", "records_per_s"), "rec/s", True),
    (
        "router alone, depth 1",
        ("router_alone", "phases", "router-depth-1", "records_per_s"),
        "rec/s",
        True,
    ),
    (
        "router alone, 2 replicas",
        ("router_alone", "phases", "router-2", "records_per_s"),
        "rec/s",
        True,
    ),
    ("history projection", ("history_events_per_s_peak_5s",), "ev/s", True),
    ("duration", ("duration_s",), "s", False),
)


def previous_result(out_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    runs = sorted(out_dir.glob("bench-*.json"))
    for path in reversed(runs):
        try:
            return path, json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return None


def _read(result: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    value: Any = result
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _stage(phase: dict[str, Any] | None, stage: str, figure: str) -> float | None:
    stages = phase.get("stages", []) if phase else []
    found = next((s for s in stages if isinstance(s, dict) and s.get("stage") == stage), None)
    return _read(found, (figure,)) if found else None


def _phases(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p.get("phase", "?"): p for p in result.get("phases", []) if isinstance(p, dict)}


def comparison(previous: dict[str, Any], current: dict[str, Any], name: str) -> str:
    lines = [f"compared with {name}:"]
    rows = [
        (label, _read(previous, keys), _read(current, keys), unit, up)
        for label, keys, unit, up in FIGURES
    ]
    before, now = _phases(previous), _phases(current)
    for phase in now:
        for figure, label, unit, up in (
            ("throughput", "rate", "req/s", True),
            ("p99_ms", "p99", "ms", False),
        ):
            rows.append(
                (
                    f"{phase} -> team {label}",
                    _stage(before.get(phase), "team", figure),
                    _stage(now[phase], "team", figure),
                    unit,
                    up,
                )
            )
    for label, old, new, unit, up in rows:
        if old is None and new is None:
            continue
        change = ""
        if old and new is not None:
            delta = (new - old) / old
            better = delta >= 0 if up else delta <= 0
            change = (
                f"{delta:+.0%} {'better' if better else 'worse'}" if abs(delta) >= 0.005 else "same"
            )
        lines.append(f"  {label:<30} {_shown(old):>10} -> {_shown(new):>10} {unit:<6} {change}")
    return "\n".join(lines)


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
