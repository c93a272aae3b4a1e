"""Evaluate a trained classifier on a labelled CSV and print ONE JSON object.

    uv run python -m router.classifier.evaluate --data FILE.csv [--wrong 0.25] [--accept 0.5]
        [--seed 7] [--model PATH] [--reroute-confidence X] [--keep-floor X] [--triage-below X]

The CSV needs `text` and `team`; `intent` (or `category`) adds intent accuracy and the
category suggestions' figures (`categories`: top-1 / top-3 accuracy, calibration, the rules'
pattern precision; category labels derived from the intents, router.classifier.suggestions);
other columns are ignored. With --wrong P, customers are simulated picking a wrong team with
probability P (seeded) and the decision policy (router.domain.decision) routes every row
(`simulation`). With --accept Q as well, customers pick a category (a wrong one with
probability P), are shown the suggestion and take it with probability Q when it differs; every
request is routed by the whole policy, rules included (`suggestions`: misroute rate without
and with suggestions, ID-document round trips avoided). Always, `routing`: the whole policy
(language, rules, model, pick, triage) on every row, without a pick and, with --wrong, with the
simulated picks — right team, triage, wrong team and urgent shares, by detected language
(router.classifier.routing_eval).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from router.classifier import load_classifier
from router.classifier.data import read_examples
from router.classifier.metrics import (
    accuracy,
    calibration,
    customer_picks,
    simulate,
    team_report,
)
from router.classifier.routing_eval import routing_report
from router.classifier.suggestions import (
    category_labels,
    simulate_suggestions,
    suggestion_report,
)
from router.domain.decision import DecisionThresholds
from router.language import LanguageDetector
from router.policy import shipped_policy
from router.settings import DEFAULT_MODEL_PATH
from shared.contracts.catalog import load_catalog

_COLD_LOAD = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from router.classifier import load_classifier
load_classifier(Path(sys.argv[1]))
print(time.perf_counter() - started)
"""


def cold_load_seconds(path: Path) -> float:
    """Import + load time in a fresh interpreter: what a starting router pays."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and fixed code
        [sys.executable, "-c", _COLD_LOAD, str(path)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def thresholds_from(args: argparse.Namespace) -> DecisionThresholds:
    overrides = {
        name: value
        for name in ("reroute_confidence", "keep_floor", "triage_below")
        if (value := getattr(args, name)) is not None
    }
    return replace(DecisionThresholds(), **overrides)


def evaluate(
    data: Path,
    model_path: Path,
    *,
    wrong: float | None = None,
    accept: float | None = None,
    seed: int = 7,
    thresholds: DecisionThresholds | None = None,
) -> dict[str, Any]:
    examples = read_examples(data)
    texts = [e.text for e in examples]
    truth = [e.team for e in examples]

    started = time.perf_counter()
    model = load_classifier(model_path)
    load_seconds = time.perf_counter() - started

    with threadpool_limits(limits=1):  # one core: BLAS pinned; the rest is single-threaded
        started = time.perf_counter()
        predictions = model.predict(texts)
        predict_seconds = time.perf_counter() - started

    predicted = [p.team for p in predictions]
    report: dict[str, Any] = {"data": str(data), "rows": len(examples)}
    report.update(team_report(truth, predicted))
    if all(e.intent for e in examples):
        intents = [e.intent for e in examples]
        report["intent_accuracy"] = round(accuracy(intents, [p.intent for p in predictions]), 4)
    report["calibration"] = calibration(
        [p.confidence for p in predictions], [p == t for p, t in zip(predicted, truth, strict=True)]
    )
    report["speed"] = {
        "classifications_per_second": round(len(texts) / predict_seconds, 1) if texts else None,
        "batch": len(texts),
        "threads": 1,
        "predict_seconds": round(predict_seconds, 3),
    }
    report["model"] = {
        "path": str(model_path),
        "version": model.version,
        "load_seconds": round(load_seconds, 3),
        "cold_load_seconds": round(cold_load_seconds(model_path), 3),
        "size_bytes": model_path.stat().st_size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    catalog = load_catalog()
    decision_thresholds = thresholds or DecisionThresholds()
    if wrong is not None:
        teams = [t for t in catalog.teams if t != catalog.triage_team]
        picks = customer_picks(truth, teams, wrong, seed)
        result = simulate(truth, picks, predictions, decision_thresholds, catalog.triage_team)
        report["simulation"] = {
            "p_wrong": wrong,
            "seed": seed,
            "thresholds": asdict(decision_thresholds),
            **result.as_dict(),
        }
    policy = shipped_policy(decision_thresholds)
    report["routing"] = routing_report(
        examples, predictions, policy, detector=LanguageDetector(), wrong=wrong, seed=seed
    )
    categories = category_labels(examples, policy.categories)
    if categories is None:
        report["categories"] = {"labels": "none: the data has no intent column to derive them"}
        return report
    report["categories"] = suggestion_report(examples, categories, predictions, policy)
    if wrong is not None and accept is not None:
        outcome = simulate_suggestions(
            examples, categories, predictions, policy, p_wrong=wrong, p_accept=accept, seed=seed
        )
        report["suggestions"] = {
            "p_wrong": wrong,
            "p_accept": accept,
            "seed": seed,
            **outcome.as_dict(),
        }
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="CSV with text,team[,intent]")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--wrong", type=float, default=None, help="P(customer picks wrong)")
    parser.add_argument(
        "--accept",
        type=float,
        default=None,
        help="with --wrong: P(customer takes the suggested category when it differs)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reroute-confidence", type=float, default=None)
    parser.add_argument("--keep-floor", type=float, default=None)
    parser.add_argument("--triage-below", type=float, default=None)
    args = parser.parse_args(argv)
    if not args.model.exists():
        parser.error(f"no model at {args.model}: run `python -m router.classifier.train` first")
    report = evaluate(
        args.data,
        args.model,
        wrong=args.wrong,
        accept=args.accept,
        seed=args.seed,
        thresholds=thresholds_from(args),
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
