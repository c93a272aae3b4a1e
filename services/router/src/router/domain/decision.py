"""Model versus customer: keep the customer's pick unless the model is sure it is wrong (pure).

Provisional thresholds; calibrated defaults come from cross-validated predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from router.classifier.types import Prediction


@dataclass(frozen=True, slots=True)
class DecisionThresholds:
    reroute_confidence: float = 0.85
    keep_floor: float = 0.05
    triage_below: float = 0.5


@dataclass(frozen=True, slots=True)
class TeamDecision:
    team: str
    reason: Literal["customer_category", "model", "triage"]
    rerouted_from: str | None
    confidence: float


def decide_team(
    customer_team: str | None,
    prediction: Prediction,
    thresholds: DecisionThresholds,
    triage_team: str = "triage",
) -> TeamDecision:
    if customer_team is None:
        if prediction.confidence >= thresholds.triage_below:
            return TeamDecision(prediction.team, "model", None, prediction.confidence)
        return TeamDecision(triage_team, "triage", None, prediction.confidence)
    customer_probability = prediction.probability(customer_team)
    if prediction.team != customer_team and prediction.confidence >= thresholds.reroute_confidence:
        return TeamDecision(prediction.team, "model", customer_team, prediction.confidence)
    if customer_probability < thresholds.keep_floor and prediction.confidence < thresholds.triage_below:
        return TeamDecision(triage_team, "triage", customer_team, prediction.confidence)
    return TeamDecision(customer_team, "customer_category", None, customer_probability)
