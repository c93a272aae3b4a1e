"""Figures from the stamps: per phase and stage, how many arrived, throughput and p50/p95/p99;
printed as a table, written as JSON, and plotted over the run (percentiles per time window)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

PERCENTILES = (50, 95, 99)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class StageFigures:
    stage: str
    arrived: int
    expected: int
    throughput: float  # arrivals per second, from the first send to the last arrival
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class PhaseFigures:
    phase: str
    description: str
    sent: int
    offered_rate: float  # requests per second the generator achieved
    errors: dict[str, int]
    stages: list[StageFigures] = field(default_factory=list)
    # (seconds since the phase's start, stage, latency in ms) per request, for the plot
    series: list[tuple[float, str, float]] = field(default_factory=list, repr=False)

    def stage(self, name: str) -> StageFigures | None:
        return next((s for s in self.stages if s.stage == name), None)


def phase_figures(
    phase: str,
    description: str,
    sent: Mapping[str, float],
    started: float,
    finished: float,
    stages: Mapping[str, Mapping[str, float]],
    errors: Mapping[str, int],
) -> PhaseFigures:
    span = max(finished - started, 1e-9)
    figures = PhaseFigures(phase, description, len(sent), len(sent) / span, dict(errors))
    for stage, arrived in stages.items():
        latencies = sorted((arrived[t] - at) * 1000 for t, at in sent.items() if t in arrived)
        last = max((arrived[t] for t in sent if t in arrived), default=started)
        # What never arrived counts as slower than everything: a percentile it reaches is inf.
        ranked = latencies + [math.inf] * (len(sent) - len(latencies))
        figures.stages.append(
            StageFigures(
                stage=stage,
                arrived=len(latencies),
                expected=len(sent),
                throughput=len(latencies) / max(last - started, 1e-9),
                p50_ms=percentile(ranked, 50),
                p95_ms=percentile(ranked, 95),
                p99_ms=percentile(ranked, 99),
                max_ms=ranked[-1] if ranked else math.nan,
            )
        )
        figures.series += [
            (at - started, stage, (arrived[t] - at) * 1000)
            for t, at in sent.items()
            if t in arrived
        ]
    return figures


def table(phases: Sequence[PhaseFigures]) -> str:
    header = (
        f"{'phase':<16} {'stage':<10} {'arrived':>13} {'req/s':>8} "
        f"{'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'max ms':>9}"
    )
    lines = [header, "-" * len(header)]
    for phase in phases:
        lines.append(
            f"{phase.phase:<16} {'(sent)':<10} {phase.sent:>13} {phase.offered_rate:>8.0f}"
            + (f"   errors: {phase.errors}" if phase.errors else "")
        )
        for s in phase.stages:
            lines.append(
                f"{'':<16} {s.stage:<10} {f'{s.arrived}/{s.expected}':>13} {s.throughput:>8.0f} "
                f"{s.p50_ms:>9.1f} {s.p95_ms:>9.1f} {s.p99_ms:>9.1f} {s.max_ms:>9.1f}"
            )
    return "\n".join(lines)


def as_json(phases: Sequence[PhaseFigures], extra: Mapping[str, Any]) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return None if math.isnan(value) or math.isinf(value) else round(value, 2)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    rendered = []
    for phase in phases:
        data = asdict(phase)
        data.pop("series")
        rendered.append(data)
    return {"phases": clean(rendered), **clean(dict(extra))}


def plot(phases: Sequence[PhaseFigures], path: Path, windows: int = 40) -> Path | None:
    """One row per phase, one column per stage: p50/p95/p99 per time window of the run.
    None when nothing arrived to plot (no file is written)."""
    shown = [p for p in phases if p.series]
    stages = sorted({stage for p in shown for _, stage, _ in p.series}, key=_stage_order)
    if not shown or not stages:
        return None
    fig, axes = plt.subplots(
        len(shown), len(stages), figsize=(4.2 * len(stages), 3.0 * len(shown)), squeeze=False
    )
    for row, phase in enumerate(shown):
        end = max(t for t, _, _ in phase.series) or 1.0
        width = end / windows or 1.0
        for col, stage in enumerate(stages):
            ax = axes[row][col]
            buckets: dict[int, list[float]] = {}
            for t, s, latency in phase.series:
                if s == stage:
                    buckets.setdefault(min(int(t / width), windows - 1), []).append(latency)
            xs = sorted(buckets)
            if not xs:  # a stage this phase does not have (intake: HTTP only), or no arrivals
                ax.set_title(f"{phase.phase}: {stage} (none)", fontsize=9)
                ax.axis("off")
                continue
            for p in PERCENTILES:
                ys = [percentile(sorted(buckets[x]), p) for x in xs]
                ax.plot([(x + 0.5) * width for x in xs], ys, label=f"p{p}")
            ax.set_title(f"{phase.phase}: {stage}", fontsize=9)
            ax.set_xlabel("seconds since start (by send time)", fontsize=8)
            ax.set_ylabel("latency ms", fontsize=8)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _stage_order(stage: str) -> int:
    order = ("intake", "team", "history", "email")
    return order.index(stage) if stage in order else len(order)
