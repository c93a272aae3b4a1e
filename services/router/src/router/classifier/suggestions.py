"""Evaluation of the category suggestions (POST /v1/classify's `categories` and `documents`):
how often the top suggestion, and the top three, hold the text's category, whether the
probabilities are honest, and what the suggestions change for customers who pick categories.

Category labels: the data sets label intents, not categories, so a row's category is derived
from its intent (and team) through the router's explicit map (`intent_categories.toml`,
router.domain.categories.CategoryMap): the same map the suggestions add intent probabilities
up with.

The simulation (seeded, deterministic for the same rows, model, seed and probabilities):

1. Each customer picks a category: the row's own with probability 1 - p_wrong, else a
   uniformly random other customer-facing category (`metrics.customer_picks`).
2. The page shows the suggestion for the text and the pick: `classify` (the router's own code)
   -> the top category and the documents the policy will require.
3. When the top category differs from the pick, the customer takes it with probability
   p_accept (one draw per row, from its own seeded stream); else keeps the pick.
4. The request is routed with the category it is submitted under (`assess`, rules and
   decision policy included): a misroute is a final team other than the row's team (triage
   counts as misrouted). Unlike evaluate's `simulation` (team picks, the decision policy
   alone) the rules apply, and a rule matches the category it owns: a wrong pick of
   disable-2fa, disable-wpc, change-email, unauthorised-activity or several-accounts goes to
   that rule's team whatever the text says, so these misroutes only a suggestion can undo.

ID-document round trips. A request *needs documents* when the policy, applied to its true
category and its text, names documents (`apply_rules`). Its customer *knew before submitting*
when the form showed them: without suggestions, when the submitted category lists documents in
the catalog; with suggestions, also when the suggestion's `documents` (the policy's, for the
text and the pick) were not empty, whether or not the customer took the category. A round
trip is a request that needs documents whose customer did not know (the photos come later, at
an agent's or the notifier's request). Avoided round trips = round trips without suggestions -
round trips with them, on the same picks. Documents asked for a request that needs none are
counted too (`documents_shown_needlessly`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from router.classifier.data import Example
from router.classifier.metrics import accuracy, calibration, customer_picks
from router.classifier.types import Prediction
from router.domain.categories import CategoryMap, category_scores, model_categories
from router.domain.classification import classify
from router.domain.routing import RequestFacts, RoutingPolicy, assess
from router.domain.rules import apply_rules, first_text_match
from shared.contracts.classification import ClassifyRequest

ACCEPT_STREAM = 1  # the accept draws' own random stream: the picks stay those of --wrong alone


def category_labels(examples: Sequence[Example], categories: CategoryMap) -> list[str] | None:
    """Each row's category from its intent and team; None when a row has no intent."""
    labels: list[str] = []
    for e in examples:
        category = categories.category_of(e.intent, e.team) if e.intent else None
        if category is None:
            return None
        labels.append(category)
    return labels


def suggestion_report(
    examples: Sequence[Example],
    truth: Sequence[str],
    predictions: Sequence[Prediction],
    policy: RoutingPolicy,
) -> dict[str, Any]:
    """Top-1 / top-3 category accuracy of the suggestions (text only, no pick), the same for
    the model alone (without the rules' evidence), per source and within the teams that own
    several categories, the calibration of the top suggestion, and each rule's pattern
    precision on these rows."""
    ranked: list[list[str]] = []
    top_p: list[float] = []
    model_top: list[str | None] = []
    rule_hits: dict[str, list[bool]] = defaultdict(list)
    for e, category, prediction in zip(examples, truth, predictions, strict=True):
        rule = first_text_match(policy.rules, e.text)
        scores = category_scores(prediction, rule, policy.categories)
        ranked.append([c for c, _ in scores[:3]])
        top_p.append(scores[0][1] if scores else 0.0)
        alone = model_categories(prediction, policy.categories)
        model_top.append(max(sorted(alone), key=alone.__getitem__) if alone else None)
        if rule is not None:
            rule_hits[rule.id].append(category in rule.categories)
    top1 = [r[0] if r else None for r in ranked]
    hit1 = [t == p for t, p in zip(truth, top1, strict=True)]

    def top3(rows: Sequence[int]) -> float:
        return sum(truth[i] in ranked[i] for i in rows) / len(rows) if rows else 0.0

    def top1_of(rows: Sequence[int]) -> float:
        return sum(hit1[i] for i in rows) / len(rows) if rows else 0.0

    everything = range(len(truth))
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_source[e.source].append(i)
    owners = {
        team
        for team in policy.categories.category_teams.values()
        if sum(t == team for t in policy.categories.category_teams.values()) > 1
    }
    shared_rows = [i for i, e in enumerate(examples) if e.team in owners]
    return {
        "labels": "derived from the intent labels through intent_categories.toml",
        "rows": len(truth),
        "top1_accuracy": round(top1_of(everything), 4),
        "top3_accuracy": round(top3(everything), 4),
        "model_alone_top1_accuracy": round(accuracy(truth, model_top), 4),
        "by_source": {
            source: {
                "rows": len(rows),
                "top1_accuracy": round(top1_of(rows), 4),
                "top3_accuracy": round(top3(rows), 4),
            }
            for source, rows in sorted(by_source.items())
        },
        "teams_with_several_categories": {
            "teams": sorted(owners),
            "rows": len(shared_rows),
            "top1_accuracy": round(top1_of(shared_rows), 4),
            "top3_accuracy": round(top3(shared_rows), 4),
        },
        "calibration_top1": calibration(top_p, hit1),
        "rule_pattern_precision": {
            rule_id: {"matches": len(hits), "precision": round(sum(hits) / len(hits), 4)}
            for rule_id, hits in sorted(rule_hits.items())
        },
    }


@dataclass(frozen=True, slots=True)
class SuggestionSimulation:
    rows: int
    wrong_pick_share: float
    suggestion_differs_share: float
    """Rows whose top suggestion is not the customer's pick."""
    accepted_share: float
    """Rows whose customer took the suggestion."""
    accepted_right: float
    """Of the accepted suggestions, the share that is the row's category."""
    right_picks_changed: float
    """Of the right picks, the share the customer changed to a wrong suggestion."""
    wrong_category_rate_without: float
    wrong_category_rate_with: float
    misroute_rate_without: float
    misroute_rate_with: float
    documents_needed: int
    round_trips_without: int
    round_trips_with: int
    round_trips_avoided: int
    documents_shown_needlessly_without: int
    documents_shown_needlessly_with: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def simulate_suggestions(
    examples: Sequence[Example],
    truth: Sequence[str],
    predictions: Sequence[Prediction],
    policy: RoutingPolicy,
    *,
    p_wrong: float,
    p_accept: float,
    seed: int,
    propose_above: float = 0.5,
) -> SuggestionSimulation:
    """`propose_above`: the intake proposes a category only this likely or more
    (INTAKE_SUGGESTION_PROPOSE_ABOVE, 0.5 by default); below it the customer sees none."""
    if not 0.0 <= p_accept <= 1.0:
        raise ValueError(f"p_accept must be within [0, 1], not {p_accept}")
    catalog = policy.catalog
    choices = list(policy.categories.category_teams)  # the customer-facing categories
    picks = customer_picks(truth, choices, p_wrong, seed)
    draws = np.random.default_rng((seed, ACCEPT_STREAM)).random(len(truth))

    def listed(category: str) -> bool:
        found = catalog.category(category)
        return bool(found and found.documents)

    def team_of(category: str, text: str, prediction: Prediction) -> str:
        facts = RequestFacts(category=category, text=text)
        return assess(facts, prediction, policy).decision.team

    n = len(truth)
    counts: dict[str, int] = defaultdict(int)
    for e, category, pick, prediction, draw in zip(
        examples, truth, picks, predictions, draws, strict=True
    ):
        answer = classify(
            ClassifyRequest.model_construct(subject="", description=e.text, category=pick),
            prediction,
            policy,
        )
        top = answer.categories[0] if answer.categories else None
        suggested = top.id if top is not None and top.probability >= propose_above else pick
        differs = suggested != pick
        accepted = differs and draw < p_accept
        final = suggested if accepted else pick
        needs = bool(apply_rules(policy.rules, catalog, category, e.text).documents)
        knew_without = listed(pick)
        knew_with = listed(final) or bool(answer.documents)
        pick_misrouted = team_of(pick, e.text, prediction) != e.team
        flags = {
            "wrong_pick": pick != category,
            "differs": differs,
            "accepted": accepted,
            "accepted_right": accepted and final == category,
            "right_changed": accepted and pick == category,
            "wrong_category_without": pick != category,
            "wrong_category_with": final != category,
            "misrouted_without": pick_misrouted,
            "misrouted_with": (
                team_of(final, e.text, prediction) != e.team if accepted else pick_misrouted
            ),
            "needs": needs,
            "trip_without": needs and not knew_without,
            "trip_with": needs and not knew_with,
            "needless_without": knew_without and not needs,
            "needless_with": knew_with and not needs,
        }
        for name, value in flags.items():
            counts[name] += bool(value)

    def share(name: str, total: int) -> float:
        return counts[name] / total if total else 0.0

    right_picks = n - counts["wrong_pick"]
    return SuggestionSimulation(
        rows=n,
        wrong_pick_share=share("wrong_pick", n),
        suggestion_differs_share=share("differs", n),
        accepted_share=share("accepted", n),
        accepted_right=share("accepted_right", counts["accepted"]),
        right_picks_changed=share("right_changed", right_picks),
        wrong_category_rate_without=share("wrong_category_without", n),
        wrong_category_rate_with=share("wrong_category_with", n),
        misroute_rate_without=share("misrouted_without", n),
        misroute_rate_with=share("misrouted_with", n),
        documents_needed=counts["needs"],
        round_trips_without=counts["trip_without"],
        round_trips_with=counts["trip_with"],
        round_trips_avoided=counts["trip_without"] - counts["trip_with"],
        documents_shown_needlessly_without=counts["needless_without"],
        documents_shown_needlessly_with=counts["needless_with"],
    )
