"""Evaluation figures and the wrong-category simulation, on tiny synthetic data."""

from __future__ import annotations

from collections import Counter

import pytest

from router.classifier.metrics import (
    accuracy,
    calibration,
    customer_picks,
    log_loss,
    mean_results,
    simulate,
    team_report,
)
from router.classifier.types import Prediction
from router.domain.decision import DecisionThresholds

pytestmark = pytest.mark.unit

TEAMS = ["account", "cards", "security", "technical"]


def sure(team: str, p: float = 0.98) -> Prediction:
    rest = [t for t in TEAMS if t != team]
    share = (1 - p) / len(rest)
    return Prediction(team, None, p, ((team, p), *((t, share) for t in rest)))


def test_team_report_counts() -> None:
    truth = ["cards", "cards", "cards", "security"]
    predicted = ["cards", "cards", "security", "security"]
    report = team_report(truth, predicted)
    assert report["team_accuracy"] == 0.75
    assert report["confusion"] == {"labels": ["cards", "security"], "matrix": [[2, 1], [0, 1]]}
    assert report["per_team"]["cards"] == {
        "precision": 1.0,
        "recall": 0.6667,
        "f1": 0.8,
        "support": 3,
    }
    assert report["per_team"]["security"]["precision"] == 0.5
    assert report["macro_f1"] == pytest.approx((0.8 + 0.6667) / 2, abs=1e-4)


def test_macro_f1_ignores_teams_absent_from_the_truth() -> None:
    report = team_report(["cards", "cards"], ["cards", "technical"])
    assert report["per_team"]["technical"]["support"] == 0
    assert report["macro_f1"] == report["per_team"]["cards"]["f1"]


def test_accuracy_of_nothing_is_zero_and_lengths_must_match() -> None:
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError, match="length"):
        accuracy(["a"], [])


def test_calibration_of_a_perfectly_calibrated_model_is_zero() -> None:
    # 10 at 0.8 of which 8 right; 20 at 0.95 of which 19 right
    confidences = [0.8] * 10 + [0.95] * 20
    correct = [True] * 8 + [False] * 2 + [True] * 19 + [False]
    result = calibration(confidences, correct)
    assert result["ece"] == pytest.approx(0.0, abs=1e-9)
    assert [row["count"] for row in result["reliability"]] == [10, 20]


def test_calibration_of_an_overconfident_model() -> None:
    result = calibration([0.9, 0.9, 0.9, 0.9], [True, False, True, False])
    assert result["ece"] == pytest.approx(0.4)
    assert result["reliability"] == [
        {"bin": "0.9-1.0", "count": 4, "mean_confidence": 0.9, "accuracy": 0.5}
    ]


def test_log_loss() -> None:
    assert log_loss([1.0, 1.0]) == pytest.approx(0.0)
    assert log_loss([0.5]) == pytest.approx(0.6931, abs=1e-4)


def test_customer_picks_are_seeded_and_wrong_picks_are_other_teams() -> None:
    truth = ["cards"] * 2000 + ["security"] * 2000
    picks = customer_picks(truth, TEAMS, 0.25, seed=7)
    assert picks == customer_picks(truth, TEAMS, 0.25, seed=7)
    assert picks != customer_picks(truth, TEAMS, 0.25, seed=8)
    wrong = [(t, p) for t, p in zip(truth, picks, strict=True) if p != t]
    assert 0.22 < len(wrong) / len(truth) < 0.28
    assert all(p in TEAMS for _, p in wrong)
    # uniformly among the 3 other teams
    counts = Counter(p for t, p in wrong if t == "cards")
    assert set(counts) == {"account", "security", "technical"}
    assert min(counts.values()) > 0.25 * sum(counts.values())


@pytest.mark.parametrize(("p_wrong", "expected_right"), [(0.0, 1.0), (1.0, 0.0)])
def test_customer_picks_extremes(p_wrong: float, expected_right: float) -> None:
    truth = ["cards", "security", "account"] * 10
    picks = customer_picks(truth, TEAMS, p_wrong, seed=1)
    assert accuracy(truth, picks) == expected_right


def test_customer_picks_reject_a_probability_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="p_wrong"):
        customer_picks(["cards"], TEAMS, 1.5, seed=1)


def test_simulation_counts_each_outcome() -> None:
    thresholds = DecisionThresholds(reroute_confidence=0.9, keep_floor=0.05, triage_below=0.5)
    truth = ["cards", "cards", "security", "security", "account"]
    picks = ["cards", "cards", "cards", "cards", "security"]
    predictions = [
        sure("cards"),  # right pick, kept
        sure("security"),  # right pick, wrongly overridden
        sure("security"),  # wrong pick, corrected
        Prediction(
            "account",
            None,
            0.45,
            (("account", 0.45), ("technical", 0.4), ("security", 0.14), ("cards", 0.01)),
        ),  # triage
        sure("account", 0.6),  # wrong pick (p security = 0.13 >= floor): stays wrong
    ]
    result = simulate(truth, picks, predictions, thresholds)
    assert result.rows == 5
    assert result.wrong_pick_share == pytest.approx(3 / 5)
    assert result.misroute_rate == pytest.approx(3 / 5)
    assert result.wrong_team_rate == pytest.approx(2 / 5)
    assert result.triage_share == pytest.approx(1 / 5)
    assert result.wrong_picks_corrected == pytest.approx(1 / 3)
    assert result.right_picks_overridden == pytest.approx(1 / 2)
    assert result.right_picks_to_triage == 0.0


def test_mean_results_averages_rates_and_keeps_counts() -> None:
    thresholds = DecisionThresholds()
    a = simulate(["cards"], ["cards"], [sure("cards")], thresholds)
    b = simulate(["cards"], ["security"], [sure("cards")], thresholds)
    mean = mean_results([a, b])
    assert mean["rows"] == 1
    assert mean["wrong_pick_share"] == 0.5
    assert mean["misroute_rate"] == 0.0
