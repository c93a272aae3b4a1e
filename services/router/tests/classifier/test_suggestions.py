"""The suggestions' evaluation: category labels from intents, top-1 / top-3 accuracy, the
seeded pick-and-accept simulation with its round trips, and `evaluate --accept`'s report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from router.classifier.data import Example
from router.classifier.evaluate import main as evaluate_main
from router.classifier.runtime import TfidfTeamClassifier
from router.classifier.suggestions import (
    category_labels,
    simulate_suggestions,
    suggestion_report,
)
from router.classifier.types import Prediction
from router.policy import shipped_policy
from shared.contracts.catalog import load_catalog

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
POLICY = shipped_policy()

# Texts no rule's pattern matches, so the model (here: a sure oracle) decides.
ROWS = [
    Example("my contact address is out of date", "account", "change_account_email", "t"),
    Example("where is my bitcoin", "withdrawals-transfers", "crypto_withdrawal_pending", "t"),
    Example("card has not come", "cards", "card_arrival", "t"),
] * 20


def oracle(example: Example) -> Prediction:
    """Sure of the row's own team and intent."""
    others = [t for t in ("cards", "account", "technical") if t != example.team]
    ranking = ((example.team, 0.98), *((t, 0.01) for t in others))
    return Prediction(example.team, example.intent, 0.98, ranking, ((example.intent or "", 0.98),))


def test_category_labels_come_from_the_intents() -> None:
    assert category_labels(ROWS[:3], POLICY.categories) == ["change-email", "withdrawals", "cards"]
    assert category_labels([Example("x", "cards", None, "t")], POLICY.categories) is None


def test_a_sure_model_suggests_the_right_category_first() -> None:
    truth = category_labels(ROWS, POLICY.categories)
    assert truth is not None
    report = suggestion_report(ROWS, truth, [oracle(e) for e in ROWS], POLICY)
    assert report["top1_accuracy"] == report["top3_accuracy"] == 1.0
    assert report["teams_with_several_categories"]["rows"] == 20
    assert report["rule_pattern_precision"] == {}


def simulate(p_accept: float, seed: int = 7) -> dict[str, float | int]:
    truth = category_labels(ROWS, POLICY.categories)
    assert truth is not None
    predictions = [oracle(e) for e in ROWS]
    return simulate_suggestions(
        ROWS, truth, predictions, POLICY, p_wrong=0.5, p_accept=p_accept, seed=seed
    ).as_dict()


def test_without_accepting_the_routing_stays_but_the_documents_are_shown() -> None:
    never = simulate(0.0)
    assert never["accepted_share"] == 0.0
    assert never["misroute_rate_with"] == never["misroute_rate_without"]
    assert never["wrong_category_rate_with"] == never["wrong_category_rate_without"] > 0
    # The model reads an e-mail change whatever the pick (its intent asks for the ID photos),
    # so the suggestion names them even to a customer who keeps a wrong category.
    assert never["round_trips_without"] > 0
    assert never["round_trips_with"] == 0


def test_accepted_right_suggestions_fix_picks_and_avoid_round_trips() -> None:
    always = simulate(1.0)
    assert always["wrong_category_rate_with"] == 0.0
    assert always["accepted_right"] == 1.0
    assert always["right_picks_changed"] == 0.0
    assert always["misroute_rate_with"] <= always["misroute_rate_without"]
    # the e-mail changes picked under another category: nobody told them about the ID photos
    assert always["documents_needed"] == 20
    assert always["round_trips_without"] > 0
    assert always["round_trips_with"] == 0
    assert always["round_trips_avoided"] == always["round_trips_without"]


def test_the_simulation_is_seeded() -> None:
    assert simulate(0.5, seed=3) == simulate(0.5, seed=3)
    assert simulate(0.5, seed=3) != simulate(0.5, seed=4)


def test_evaluate_with_accept_reports_the_suggestions(
    small_model: TfidfTeamClassifier, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = tmp_path / "model.joblib"
    small_model.save(model_path)
    data = tmp_path / "eval.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent", "team"])
        writer.writerow(["my card still hasn't arrived", "card_arrival", "cards"])
        writer.writerow(["please reset my 2fa, I lost my phone", "disable_2fa", "security"])
        writer.writerow(["I have two accounts, can I merge them", "several_accounts", "account"])
        writer.writerow(
            ["my BTC withdrawal is pending", "crypto_withdrawal_pending", "withdrawals-transfers"]
        )
    argv = ["--data", str(data), "--model", str(model_path), "--wrong", "0.25"]
    evaluate_main([*argv, "--accept", "0.5"])
    report = json.loads(capsys.readouterr().out)
    assert {"team_accuracy", "simulation", "speed", "model"} <= set(report)  # as before
    categories = report["categories"]
    assert 0 <= categories["top1_accuracy"] <= categories["top3_accuracy"] <= 1
    assert categories["rule_pattern_precision"]["id-documents-2fa"]["matches"] == 1
    suggestions = report["suggestions"]
    assert (suggestions["p_wrong"], suggestions["p_accept"]) == (0.25, 0.5)
    for key in ("misroute_rate_without", "misroute_rate_with", "round_trips_avoided"):
        assert key in suggestions
    evaluate_main(argv)  # no --accept: no simulation of suggestions
    assert "suggestions" not in json.loads(capsys.readouterr().out)
