"""Train the team classifier on the shipped data and write the artifact.

    uv run python -m router.classifier.train [--output PATH] [--jobs N] [--without-dev-holdout]
        [--extra FILE.csv ...] [--margin 0.005] [--force]

--without-dev-holdout leaves out services/router/data/dev_holdout.csv, for a model to evaluate
on that hold-out; the served model trains on everything. --extra adds rows from outside the
repo (agents' corrections, an export of past tickets: router.classifier.extra): the model is
first fitted without and with them, both without the hold-out, and their hold-out figures are
printed side by side; a model worse by more than --margin team accuracy is not written
(exit 2) unless --force.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from router.classifier.data import (
    DEV_HOLDOUT_CSV,
    TRAINING_FILES,
    Example,
    load_examples,
    read_examples,
    without,
)
from router.classifier.extra import DEFAULT_MARGIN, ExtraDataError, compare, read_extra
from router.classifier.model import ModelParams, fit
from router.settings import DEFAULT_MODEL_PATH
from shared.contracts.catalog import load_catalog


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
    extra: Sequence[Example] = (),
) -> TrainingResult:
    """Fit on every row of `files` (default: BANKING77 train + crypto examples) and save the
    model to `output`. Deterministic: the same data and params give the same version and the
    same probabilities. Rows of the `holdout` CSV, if given, are left out."""
    started = time.perf_counter()
    examples = load_examples(files or TRAINING_FILES)
    if holdout is not None:
        examples = without(examples, read_examples(holdout))
    examples = [*examples, *extra]
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


def _extra_rows(paths: Sequence[Path], examples: Sequence[Example]) -> list[Example]:
    known = {e.intent for e in examples if e.intent}
    return [row for path in paths for row in read_extra(path, load_catalog(), known)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--jobs", type=int, default=2, help="parallel calibration folds")
    parser.add_argument(
        "--without-dev-holdout", action="store_true", help=f"leave out {DEV_HOLDOUT_CSV.name}"
    )
    parser.add_argument("--extra", type=Path, action="append", default=[], help="CSV to add")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument("--force", action="store_true", help="write even a worse model")
    args = parser.parse_args(argv)
    holdout = DEV_HOLDOUT_CSV if args.without_dev_holdout else None
    extra: list[Example] = []
    if args.extra:
        base = load_examples(TRAINING_FILES)
        try:
            extra = _extra_rows(args.extra, base)
        except (ExtraDataError, OSError) as exc:
            parser.exit(2, f"train: {exc}\n")
        outcome = compare(
            base, extra, DEV_HOLDOUT_CSV, params=ModelParams(), n_jobs=args.jobs, margin=args.margin
        )
        figures = asdict(outcome) | {"labelled": len(outcome.labelled)}
        print(json.dumps({"development_holdout": figures, "worse": outcome.worse}, indent=2))
        if outcome.worse and not args.force:
            parser.exit(
                2,
                f"train: with the extra rows the hold-out's team accuracy drops from"
                f" {outcome.without_extra.team_accuracy:.2%} to"
                f" {outcome.with_extra.team_accuracy:.2%} (more than {args.margin:.2%}):"
                " no model written (--force writes it)\n",
            )
        extra = list(outcome.labelled)
    result = train(args.output, n_jobs=args.jobs, holdout=holdout, extra=extra)
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
