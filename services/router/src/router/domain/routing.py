"""Where a request goes and why (pure): policy rules first, then the model against the
customer's own pick, then triage when neither can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.classifier.types import Prediction
from router.domain.categories import CategoryMap
from router.domain.decision import DecisionThresholds, decide_team
from router.domain.rules import PolicyMatch, PolicyRule, apply_rules
from shared.contracts.catalog import Catalog
from shared.contracts.events import Priority, RoutingDecision, TeamScore, TicketSubmitted

NO_MODEL_VERSION = "none"


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    catalog: Catalog
    rules: tuple[PolicyRule, ...]
    thresholds: DecisionThresholds
    categories: CategoryMap
    """Intent -> category, for the category suggestions (router.domain.categories)."""


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What routing reads of a request, submitted (TicketSubmitted) or still being written
    (POST /v1/classify)."""

    category: str
    """The customer's pick ("" for none yet)."""
    text: str
    has_attachments: bool = False
    documents_missing: bool = False
    """The intake's flag: the category needs documents and none were attached."""

    @classmethod
    def of(cls, ticket: TicketSubmitted) -> RequestFacts:
        return cls(
            category=ticket.category,
            text=ticket_text(ticket),
            has_attachments=bool(ticket.attachments),
            documents_missing=ticket.required_documents_missing,
        )


@dataclass(frozen=True, slots=True)
class Routed:
    decision: RoutingDecision
    policy: PolicyMatch
    """The rule that matched, and the documents and guidance (catalog ids) of the request."""


def request_text(subject: str, description: str) -> str:
    return f"{subject}\n{description}"


def ticket_text(ticket: TicketSubmitted) -> str:
    return request_text(ticket.subject, ticket.description)


def route(
    ticket: TicketSubmitted,
    prediction: Prediction | None,
    policy: RoutingPolicy,
    *,
    model_version: str = NO_MODEL_VERSION,
    account_kind: str | None = None,
) -> RoutingDecision:
    return assess(
        RequestFacts.of(ticket),
        prediction,
        policy,
        model_version=model_version,
        account_kind=account_kind,
    ).decision


def assess(
    request: RequestFacts,
    prediction: Prediction | None,
    policy: RoutingPolicy,
    *,
    model_version: str = NO_MODEL_VERSION,
    account_kind: str | None = None,
) -> Routed:
    triage = policy.catalog.triage_team
    picked = policy.catalog.team_for(request.category)
    customer_team = None if picked == triage else picked
    match = apply_rules(policy.rules, policy.catalog, request.category, request.text, account_kind)
    rule = match.rule
    docs_missing = request.documents_missing or bool(
        rule and rule.documents and not request.has_attachments
    )

    if rule is not None and rule.team is not None:
        team, reason = rule.team, f"rule:{rule.id}"
        confidence = prediction.probability(team) if prediction else None
        explanation = rule.description
    elif prediction is not None:
        outcome = decide_team(customer_team, prediction, policy.thresholds, triage)
        team, reason, confidence = outcome.team, outcome.reason, outcome.confidence
        explanation = _explain(outcome.reason, team, customer_team, prediction)
    elif customer_team is not None:
        team, reason, confidence = customer_team, "customer_category", None
        explanation = "no model loaded: the customer's category decides"
    else:
        team, reason, confidence = triage, "triage", None
        explanation = "no model loaded and no category to go by"

    decision = RoutingDecision(
        team=team,
        intent=prediction.intent if prediction else None,
        confidence=1.0 if confidence is None else confidence,
        priority=rule.priority if rule and rule.priority else Priority.NORMAL,
        customer_category=request.category,
        customer_team=customer_team,
        rerouted_from=customer_team if customer_team and team != customer_team else None,
        reason=reason,
        explanation=explanation,
        model_version=model_version,
        runner_up=tuple(
            TeamScore(team=t, probability=round(p, 4))
            for t, p in (prediction.ranking if prediction else ())
            if t != team
        )[:3],
        required_documents_missing=docs_missing,
        required_documents=match.documents if docs_missing else (),
        flags=rule.flags if rule else (),
    )
    return Routed(decision=decision, policy=match)


def _explain(reason: str, team: str, customer_team: str | None, prediction: Prediction) -> str:
    sure = f"{prediction.confidence:.0%}"
    if reason == "model" and customer_team and customer_team != team:
        return f"the text reads as {team} ({sure}), not the customer's pick {customer_team}"
    if reason == "model":
        return f"the text reads as {team} ({sure})"
    if reason == "triage":
        return (
            f"neither the customer's pick nor the model ({prediction.team}, {sure}) is trustworthy"
        )
    return (
        f"the customer's pick {team} agrees with the text or the model is not sure enough ({sure})"
    )
