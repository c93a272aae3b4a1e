"""The whole routing policy on labelled rows, as the router runs it: the language detected, the
rules composed, the model against the customer's pick, triage (`make evaluate`'s `routing`).

Where the model-only figures (`simulation`) ask "how good is the classifier", these ask what a
team receives: the share of rows that reach their team, go to triage (a person routes them,
slower but not wrong), or reach a wrong team (a misroute), and how many are made urgent.
Customers' picks are team-level: a picked team stands for its default category
(intent_categories.toml), and a wrong one is drawn as in `simulation`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from router.classifier.data import Example
from router.classifier.metrics import customer_picks
from router.classifier.types import Prediction
from router.domain.routing import RequestFacts, RoutingPolicy, assess
from router.ports import LanguageOf
from shared.contracts.events import Priority, RoutingDecision


def _shares(
    truth: Sequence[str], decisions: Sequence[RoutingDecision], triage: str
) -> dict[str, Any]:
    n = len(truth)
    if not n:
        return {"rows": 0}
    right = sum(d.team == t for d, t in zip(decisions, truth, strict=True))
    triaged = sum(d.team == triage != t for d, t in zip(decisions, truth, strict=True))
    return {
        "rows": n,
        "right_team": round(right / n, 4),
        "triage": round(triaged / n, 4),
        "wrong_team": round((n - right - triaged) / n, 4),
        "urgent": round(sum(d.priority is Priority.URGENT for d in decisions) / n, 4),
    }


def _report(
    examples: Sequence[Example],
    decisions: Sequence[RoutingDecision],
    languages: Sequence[str],
    triage: str,
) -> dict[str, Any]:
    truth = [e.team for e in examples]
    report = _shares(truth, decisions, triage)
    rows: dict[str, list[int]] = defaultdict(list)
    for i, language in enumerate(languages):
        rows[language].append(i)
    if len(rows) > 1:
        report["by_language"] = {
            language: _shares([truth[i] for i in idx], [decisions[i] for i in idx], triage)
            for language, idx in sorted(rows.items())
        }
    return report


def routing_report(
    examples: Sequence[Example],
    predictions: Sequence[Prediction],
    policy: RoutingPolicy,
    *,
    detector: LanguageOf | None,
    wrong: float | None,
    seed: int,
) -> dict[str, Any]:
    triage = policy.catalog.triage_team
    detected = [detector.language_of(e.text) if detector else None for e in examples]
    labels = [language or "undetermined" for language in detected]

    def decide(categories: Sequence[str]) -> list[RoutingDecision]:
        return [
            assess(RequestFacts(category=c, text=e.text, language=lang), p, policy).decision
            for e, p, c, lang in zip(examples, predictions, categories, detected, strict=True)
        ]

    report: dict[str, Any] = {
        "languages_detected": dict(sorted(Counter(labels).items())),
        "without_pick": _report(examples, decide([""] * len(examples)), labels, triage),
    }
    if wrong is not None:
        teams = sorted(policy.categories.team_defaults)
        truth = [e.team for e in examples]
        picks = customer_picks(truth, teams, wrong, seed)
        categories = [policy.categories.team_defaults.get(t, "") for t in picks]
        decisions = decide(categories)
        with_picks = _report(examples, decisions, labels, triage)
        right_picks = [i for i, (p, t) in enumerate(zip(picks, truth, strict=True)) if p == t]
        overridden = sum(decisions[i].team != truth[i] for i in right_picks)
        with_picks |= {
            "p_wrong": wrong,
            "seed": seed,
            "right_picks_overridden": round(overridden / len(right_picks), 4)
            if right_picks
            else 0.0,
        }
        report["with_picks"] = with_picks
    return report
