"""Cross-validated figures of the training recipe, printed as ONE JSON object.

    uv run python -m router.classifier.crossval [--folds 5] [--seed 0] [--target intent|team]
        [--embedding-gate G] [--tune] [--write-dev-split PATH]

Stratified k-fold over intents on the whole training set (BANKING77 train + crypto examples):
every text is predicted by a model that never saw it. Reports team accuracy (overall,
BANKING77-only, crypto-only), intent accuracy, macro-F1, calibration (ECE and reliability
table, log loss) and the 25%-wrong-category simulation through the decision policy. --tune
searches the decision thresholds on these predictions (how the defaults were chosen);
--target team trains on teams directly instead of intents (for comparison).
--write-dev-split writes the fixed development hold-out used by the regression test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from router.classifier.data import (
    BANKING77_CSV,
    DEV_HOLDOUT_CSV,
    Example,
    load_examples,
    write_examples,
)
from router.classifier.metrics import (
    accuracy,
    calibration,
    customer_picks,
    log_loss,
    mean_results,
    simulate,
    team_report,
)
from router.classifier.model import ModelParams, fit
from router.classifier.types import Prediction
from router.domain.decision import DecisionThresholds
from shared.contracts.catalog import load_catalog

SIMULATION_SEEDS = (7, 8, 9)
TRIAGE_COST = 0.5
MISROUTE_TARGET = 0.025
DEV_HOLDOUT_SHARE = 0.15
DEV_SPLIT_SEED = 0

# Threshold grid for --tune.
REROUTE = (0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)
KEEP_FLOOR = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3)
TRIAGE_BELOW = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)


def out_of_fold(
    examples: Sequence[Example], folds: int, seed: int, params: ModelParams, n_jobs: int
) -> list[Prediction]:
    """One prediction per example, each from a model fitted without that example's fold."""
    labels = [e.intent for e in examples]
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    predictions: list[Prediction | None] = [None] * len(examples)
    encoder = None
    if params.embedding_gate > 0:  # one encoder for all folds: each text is embedded once
        from router.classifier.encoder import SentenceEncoder

        encoder = SentenceEncoder(threads=n_jobs, memo=True)
    for train_rows, test_rows in splitter.split(np.zeros(len(labels)), labels):
        model = fit([examples[i] for i in train_rows], params, n_jobs=n_jobs, encoder=encoder)
        fold = model.predict([examples[i].text for i in test_rows])
        for row, prediction in zip(test_rows, fold, strict=True):
            predictions[row] = prediction
    return [p for p in predictions if p is not None]


def picks_per_seed(examples: Sequence[Example], p_wrong: float) -> list[list[str]]:
    """Simulated customer picks, one list per seed in SIMULATION_SEEDS."""
    catalog = load_catalog()
    teams = [t for t in catalog.teams if t != catalog.triage_team]
    truth = [e.team for e in examples]
    return [customer_picks(truth, teams, p_wrong, seed) for seed in SIMULATION_SEEDS]


def simulations(
    examples: Sequence[Example],
    predictions: Sequence[Prediction],
    thresholds: DecisionThresholds,
    picks: Sequence[Sequence[str]],
) -> dict[str, float | int]:
    """The simulation's figures averaged over the seeds' picks."""
    truth = [e.team for e in examples]
    triage = load_catalog().triage_team
    return mean_results(
        [simulate(truth, seed_picks, predictions, thresholds, triage) for seed_picks in picks]
    )


def tune(
    examples: Sequence[Example], predictions: Sequence[Prediction], p_wrong: float
) -> dict[str, Any]:
    """Grid-search the thresholds on cross-validated predictions.

    Rule: keep the settings whose final misroute rate (triage counted as misrouted) is at most
    2.5%, half a point under the 3% requirement because cross-validation on the training data
    is optimistic (on the development hold-out both rates came out about 0.3 points worse).
    Among those, the fewest right picks overridden (a customer who chose well should keep
    the choice; requirement <= 1%), then the lowest cost, where a request sent to a wrong team
    costs 1 and one sent to triage 1/2 (humans route it the same day; a wrong team first has
    to notice, then forward it)."""
    picks = picks_per_seed(examples, p_wrong)
    rows: list[dict[str, Any]] = []
    for reroute, floor, triage in itertools.product(REROUTE, KEEP_FLOOR, TRIAGE_BELOW):
        thresholds = DecisionThresholds(reroute, floor, triage)
        figures = simulations(examples, predictions, thresholds, picks)
        setting = {"reroute_confidence": reroute, "keep_floor": floor, "triage_below": triage}
        rows.append(setting | figures)
    for row in rows:
        row["cost"] = round(row["wrong_team_rate"] + TRIAGE_COST * row["triage_share"], 4)
    feasible = [r for r in rows if r["misroute_rate"] <= MISROUTE_TARGET]
    feasible.sort(key=lambda r: (r["right_picks_overridden"], r["cost"], r["reroute_confidence"]))
    cheapest = [r for r in rows if r["right_picks_overridden"] <= 0.01]
    cheapest.sort(key=lambda r: (r["cost"], r["misroute_rate"]))
    return {
        "p_wrong": p_wrong,
        "seeds": list(SIMULATION_SEEDS),
        "criterion": f"misroute_rate <= {MISROUTE_TARGET}; then min right_picks_overridden, "
        f"then min cost = wrong_team_rate + {TRIAGE_COST} * triage_share",
        "grid_size": len(rows),
        "feasible": len(feasible),
        "best": feasible[:10],
        "lowest_cost_with_at_most_1pct_overridden": cheapest[:3],
    }


def dev_holdout(examples: Sequence[Example]) -> list[Example]:
    """A fixed stratified 15% of the examples, for the regression test."""
    splitter = StratifiedShuffleSplit(
        n_splits=1, test_size=DEV_HOLDOUT_SHARE, random_state=DEV_SPLIT_SEED
    )
    labels = [e.intent for e in examples]
    _, holdout_rows = next(splitter.split(np.zeros(len(labels)), labels))
    return [examples[i] for i in sorted(holdout_rows)]


def report(
    examples: Sequence[Example],
    predictions: Sequence[Prediction],
    p_wrong: float,
    thresholds: DecisionThresholds,
) -> dict[str, Any]:
    truth = [e.team for e in examples]
    predicted = [p.team for p in predictions]
    banking = [i for i, e in enumerate(examples) if e.source == BANKING77_CSV.stem]
    others = [i for i, e in enumerate(examples) if e.source != BANKING77_CSV.stem]

    def team_accuracy(rows: Sequence[int]) -> float:
        return round(accuracy([truth[i] for i in rows], [predicted[i] for i in rows]), 4)

    teams = team_report(truth, predicted)
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]
    banking_examples = [examples[i] for i in banking]
    banking_predictions = [predictions[i] for i in banking]
    return {
        "team_accuracy": {
            "all": teams["team_accuracy"],
            "banking77": team_accuracy(banking),
            "crypto_examples": team_accuracy(others),
        },
        "intent_accuracy": (
            round(accuracy([e.intent for e in examples], [p.intent for p in predictions]), 4)
            if any(p.intent for p in predictions)
            else None
        ),
        "macro_f1": teams["macro_f1"],
        "per_team": teams["per_team"],
        "confusion": teams["confusion"],
        "calibration": {
            "team": calibration([p.confidence for p in predictions], correct),
            "team_log_loss": round(
                log_loss([p.probability(t) for p, t in zip(predictions, truth, strict=True)]), 4
            ),
        },
        "simulation": {
            "p_wrong": p_wrong,
            "seeds": list(SIMULATION_SEEDS),
            "thresholds": asdict(thresholds),
            "all": simulations(
                examples, predictions, thresholds, picks_per_seed(examples, p_wrong)
            ),
            "banking77": simulations(
                banking_examples,
                banking_predictions,
                thresholds,
                picks_per_seed(banking_examples, p_wrong),
            ),
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--wrong", type=float, default=0.25)
    parser.add_argument("--target", choices=("intent", "team"), default="intent")
    parser.add_argument("--alpha", type=float, default=None, help="override ModelParams.alpha")
    parser.add_argument(
        "--embedding-gate", type=float, default=None, help="override; 0 = TF-IDF only"
    )
    parser.add_argument("--tune", action="store_true", help="search the decision thresholds")
    parser.add_argument(
        "--write-dev-split",
        type=Path,
        nargs="?",
        const=DEV_HOLDOUT_CSV,
        default=None,
        help=f"write the fixed {DEV_HOLDOUT_SHARE:.0%} hold-out (default {DEV_HOLDOUT_CSV.name})",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    examples = load_examples()
    if args.write_dev_split:
        write_examples(args.write_dev_split, dev_holdout(examples))
    params = ModelParams()
    if args.alpha is not None:
        params = replace(params, alpha=args.alpha)
    if args.embedding_gate is not None:
        params = replace(params, embedding_gate=args.embedding_gate)
    fitted_on = examples
    if args.target == "team":  # one class per team: the intents are not used
        fitted_on = [replace(e, intent=e.team) for e in examples]
    predictions = out_of_fold(fitted_on, args.folds, args.seed, params, args.jobs)
    if args.target == "team":
        predictions = [replace(p, intent=None) for p in predictions]
    figures: dict[str, Any] = {
        "folds": args.folds,
        "seed": args.seed,
        "target": args.target,
        "examples": len(examples),
        "params": params.describe(),
    }
    figures |= report(examples, predictions, args.wrong, DecisionThresholds())
    if args.tune:
        figures["tuning"] = tune(examples, predictions, args.wrong)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
