"""Evaluation figures (numpy only): accuracy, per-team precision/recall, macro-F1, confusion
matrix, calibration, and the wrong-category simulation through the real decision policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from router.classifier.types import Prediction
from router.domain.decision import DecisionThresholds, decide_team


def accuracy(truth: Sequence[str | None], predicted: Sequence[str | None]) -> float:
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    if not truth:
        return 0.0
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def team_report(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over the teams present in `truth`), per-team precision / recall /
    F1 / support, and the confusion matrix (rows: true team, columns: predicted team)."""
    labels = sorted(set(truth) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t], index[p]] += 1
    per_team: dict[str, dict[str, float | int]] = {}
    for label, i in index.items():
        hits, support, claimed = matrix[i, i], matrix[i].sum(), matrix[:, i].sum()
        precision = hits / claimed if claimed else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_team[label] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(support),
        }
    present = sorted(set(truth))
    macro_f1 = float(np.mean([per_team[t]["f1"] for t in present])) if present else 0.0
    return {
        "team_accuracy": round(accuracy(truth, predicted), 4),
        "macro_f1": round(macro_f1, 4),
        "per_team": per_team,
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def calibration(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> dict[str, Any]:
    """Expected calibration error of the top-class probability over equal-width bins, and the
    reliability table (non-empty bins): how often the model was right at each confidence."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape:
        raise ValueError("confidences and outcomes differ in length")
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    ece = 0.0
    table: list[dict[str, Any]] = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        if not count:
            continue
        mean_conf, acc = float(conf[mask].mean()), float(hit[mask].mean())
        ece += count / len(conf) * abs(acc - mean_conf)
        table.append(
            {
                "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                "count": count,
                "mean_confidence": round(mean_conf, 4),
                "accuracy": round(acc, 4),
            }
        )
    return {"ece": round(ece, 4), "bins": bins, "reliability": table}


def log_loss(probabilities: Sequence[float]) -> float:
    """Mean negative log-likelihood, given each row's probability of its true label."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1.0)
    return float(-np.log(p).mean()) if len(p) else 0.0


def customer_picks(
    truth: Sequence[str], teams: Sequence[str], p_wrong: float, seed: int
) -> list[str]:
    """Each customer picks the true team with probability 1 - p_wrong, else a uniformly random
    other team of `teams` (seeded, so the same picks for the same rows and seed)."""
    if not 0.0 <= p_wrong <= 1.0:
        raise ValueError(f"p_wrong must be within [0, 1], not {p_wrong}")
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(truth)) < p_wrong
    draws = rng.random(len(truth))
    picks: list[str] = []
    for true_team, is_wrong, draw in zip(truth, wrong, draws, strict=True):
        others = [t for t in teams if t != true_team]
        picks.append(others[int(draw * len(others))] if is_wrong and others else true_team)
    return picks


@dataclass(frozen=True, slots=True)
class SimulationResult:
    rows: int
    wrong_pick_share: float
    """How many customers picked a wrong team (about p_wrong)."""
    misroute_rate: float
    """Final team is not the true team; triage counts as misrouted."""
    wrong_team_rate: float
    """Final team is another real team (misroutes without triage)."""
    triage_share: float
    wrong_picks_corrected: float
    """Of the wrong picks, the share that ended at the true team."""
    right_picks_overridden: float
    """Of the right picks, the share moved away (to another team or to triage)."""
    right_picks_to_triage: float
    """Of the right picks, the share sent to triage."""

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def simulate(
    truth: Sequence[str],
    picks: Sequence[str | None],
    predictions: Sequence[Prediction],
    thresholds: DecisionThresholds,
    triage_team: str = "triage",
) -> SimulationResult:
    """Route every row with the decision policy, from the customer's pick and the prediction."""
    n = len(truth)
    if not n == len(picks) == len(predictions):
        raise ValueError("truth, picks and predictions differ in length")
    final = [
        decide_team(pick, prediction, thresholds, triage_team).team
        for pick, prediction in zip(picks, predictions, strict=True)
    ]
    right = [p == t for p, t in zip(picks, truth, strict=True)]
    n_right = sum(right)
    n_wrong = n - n_right

    def share(count: int, total: int) -> float:
        return count / total if total else 0.0

    rows = list(zip(truth, picks, final, right, strict=True))
    return SimulationResult(
        rows=n,
        wrong_pick_share=share(n_wrong, n),
        misroute_rate=share(sum(f != t for t, _, f, _ in rows), n),
        wrong_team_rate=share(sum(f not in (t, triage_team) for t, _, f, _ in rows), n),
        triage_share=share(sum(f == triage_team for _, _, f, _ in rows), n),
        wrong_picks_corrected=share(sum(f == t for t, _, f, r in rows if not r), n_wrong),
        right_picks_overridden=share(sum(f != p for _, p, f, r in rows if r), n_right),
        right_picks_to_triage=share(sum(f == triage_team for _, _, f, r in rows if r), n_right),
    )


def mean_results(results: Sequence[SimulationResult]) -> dict[str, float | int]:
    """Field-wise mean of several simulations (e.g. one per seed)."""
    first = results[0].as_dict()
    return {
        key: (
            round(float(np.mean([r.as_dict()[key] for r in results])), 4)
            if isinstance(value, float)
            else value
        )
        for key, value in first.items()
    }
