"""Train the team classifier on the shipped data and write the artifact.

    uv run python -m router.classifier.train [--output PATH] [--jobs N] [--without-dev-holdout]

--without-dev-holdout leaves out services/router/data/dev_holdout.csv, for a model to evaluate
on that hold-out; the served model trains on everything.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from router.classifier.data import (
    DEV_HOLDOUT_CSV,
    TRAINING_FILES,
    load_examples,
    read_examples,
    without,
)
from router.classifier.model import ModelParams, fit
from router.settings import DEFAULT_MODEL_PATH


@dataclass(frozen=True, slots=True)
class TrainingResult:
    path: Path
    version: str
    examples: int
    intents: int
    teams: tuple[str, ...]
    seconds: float
    size_bytes: int


def train(
    output: Path = DEFAULT_MODEL_PATH,
    *,
    files: Sequence[Path] | None = None,
    params: ModelParams | None = None,
    n_jobs: int = 2,
    holdout: Path | None = None,
) -> TrainingResult:
    """Fit on every row of `files` (default: BANKING77 train + crypto examples) and save the
    model to `output`. Deterministic: the same data and params give the same version and the
    same probabilities. Rows of the `holdout` CSV, if given, are left out."""
    started = time.perf_counter()
    examples = load_examples(files or TRAINING_FILES)
    if holdout is not None:
        examples = without(examples, read_examples(holdout))
    model = fit(examples, params or ModelParams(), n_jobs=n_jobs)
    model.save(output)
    return TrainingResult(
        path=output,
        version=model.version,
        examples=len(examples),
        intents=len(model.intents),
        teams=model.teams,
        seconds=round(time.perf_counter() - started, 1),
        size_bytes=output.stat().st_size,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--jobs", type=int, default=2, help="parallel calibration folds")
    parser.add_argument(
        "--without-dev-holdout", action="store_true", help=f"leave out {DEV_HOLDOUT_CSV.name}"
    )
    args = parser.parse_args(argv)
    holdout = DEV_HOLDOUT_CSV if args.without_dev_holdout else None
    result = train(args.output, n_jobs=args.jobs, holdout=holdout)
    summary = {
        "version": result.version,
        "output": str(result.path),
        "examples": result.examples,
        "intents": result.intents,
        "teams": list(result.teams),
        "seconds": result.seconds,
        "size_bytes": result.size_bytes,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
