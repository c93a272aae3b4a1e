"""decide_team: every branch and the threshold boundaries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from router.classifier.types import Prediction
from router.domain.decision import DecisionThresholds, TeamDecision, decide_team

pytestmark = pytest.mark.unit

THRESHOLDS = DecisionThresholds(reroute_confidence=0.9, keep_floor=0.05, triage_below=0.5)


def prediction(**probabilities: float) -> Prediction:
    """A prediction over the given teams (underscores stand for dashes)."""
    ranking = tuple(
        sorted(((t.replace("_", "-"), p) for t, p in probabilities.items()), key=lambda x: -x[1])
    )
    return Prediction(ranking[0][0], None, ranking[0][1], ranking)


def test_no_pick_and_a_confident_model_goes_to_the_model() -> None:
    decision = decide_team(None, prediction(cards=0.7, security=0.3), THRESHOLDS)
    assert decision == TeamDecision("cards", "model", None, 0.7)


def test_no_pick_and_an_unsure_model_goes_to_triage() -> None:
    decision = decide_team(None, prediction(cards=0.49, security=0.31, account=0.2), THRESHOLDS)
    assert decision == TeamDecision("triage", "triage", None, 0.49)


def test_no_pick_at_exactly_triage_below_goes_to_the_model() -> None:
    decision = decide_team(None, prediction(cards=0.5, security=0.5), THRESHOLDS)
    assert decision.reason == "model"


def test_model_agreeing_with_the_customer_keeps_the_pick_however_unsure() -> None:
    decision = decide_team(
        "cards", prediction(cards=0.3, security=0.25, account=0.25, fees_billing=0.2), THRESHOLDS
    )
    assert decision == TeamDecision("cards", "customer_category", None, 0.3)


def test_confident_model_overrides_the_customer() -> None:
    decision = decide_team("cards", prediction(security=0.93, cards=0.07), THRESHOLDS)
    assert decision == TeamDecision("security", "model", "cards", 0.93)


def test_reroute_at_exactly_the_reroute_confidence() -> None:
    decision = decide_team("cards", prediction(security=0.9, cards=0.1), THRESHOLDS)
    assert (decision.team, decision.rerouted_from) == ("security", "cards")


def test_just_below_the_reroute_confidence_the_trusted_pick_stays() -> None:
    decision = decide_team("cards", prediction(security=0.89, cards=0.11), THRESHOLDS)
    assert decision == TeamDecision("cards", "customer_category", None, 0.11)


def test_pick_at_exactly_the_keep_floor_is_trusted() -> None:
    decision = decide_team("cards", prediction(security=0.6, account=0.35, cards=0.05), THRESHOLDS)
    assert decision == TeamDecision("cards", "customer_category", None, 0.05)


def test_untrusted_pick_goes_to_a_fairly_sure_model() -> None:
    decision = decide_team("cards", prediction(security=0.6, account=0.36, cards=0.04), THRESHOLDS)
    assert decision == TeamDecision("security", "model", "cards", 0.6)


def test_untrusted_pick_and_unsure_model_goes_to_triage() -> None:
    decision = decide_team(
        "cards", prediction(security=0.45, account=0.35, fees_billing=0.16, cards=0.04), THRESHOLDS
    )
    assert decision == TeamDecision("triage", "triage", "cards", 0.45)


def test_a_team_the_model_does_not_know_is_an_untrusted_pick() -> None:
    decision = decide_team("legal", prediction(security=0.7, account=0.3), THRESHOLDS)
    assert decision == TeamDecision("security", "model", "legal", 0.7)


def test_triage_team_name_is_configurable() -> None:
    decision = decide_team(
        None, prediction(cards=0.4, account=0.35, security=0.25), THRESHOLDS, "humans"
    )
    assert decision.team == "humans"


def test_defaults_are_ordered_sensibly() -> None:
    d = DecisionThresholds()
    assert 0 < d.keep_floor < d.triage_below <= d.reroute_confidence < 1


@pytest.mark.parametrize("field", ["reroute_confidence", "keep_floor", "triage_below"])
@pytest.mark.parametrize("value", [-0.01, 1.01])
def test_thresholds_outside_zero_one_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        DecisionThresholds(**{field: value})


def test_the_decision_module_does_not_load_the_model_stack() -> None:
    code = (
        "import sys, router.domain.decision; "
        "heavy = {'numpy', 'sklearn', 'scipy', 'faststream', 'pymongo'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
