"""Where a request goes and why (pure): a language the model cannot read goes to triage; then
a rule matched by the text or the model's intent; then the model against the customer's own
pick; triage when neither can be trusted. Every matching rule then adds what it asks
(router.domain.rules.compose), and the decision lists each contribution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from router.classifier.types import Prediction
from router.domain.categories import CategoryMap
from router.domain.decision import DecisionThresholds, decide_team
from router.domain.rules import (
    PolicyMatch,
    PolicyRule,
    RuleHit,
    compose,
    exempted,
    hits,
    routing_hit,
)
from shared.contracts.catalog import Catalog
from shared.contracts.events import RoutingDecision, TeamScore, TicketSubmitted

NO_MODEL_VERSION = "none"


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    catalog: Catalog
    rules: tuple[PolicyRule, ...]
    thresholds: DecisionThresholds
    categories: CategoryMap
    """Intent -> category, for the category suggestions (router.domain.categories)."""
    languages: frozenset[str] = frozenset({"en"})
    """The languages the model reads; a request detected in another goes to triage."""
    foreign_triage_below: float = 0.8
    """For a text in a language other than English (fewer training rows, less measured
    calibration): without a trusted pick, the model's team must be this sure, else triage."""
    long_text_words: int = 150
    """From this many words a text is long: a pattern match there counts only when the model
    agrees (one alarming word in a long complaint does not make it a security case)."""
    corroboration: float = 0.2
    """The model's probability of a rule's team from which it agrees with a pattern match."""

    def reads(self, language: str | None) -> bool:
        """The model (and the rules) can read a text in `language` (None: not detected)."""
        return language is None or language in self.languages


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What routing reads of a request, submitted (TicketSubmitted) or still being written
    (POST /v1/classify)."""

    category: str
    """The customer's pick ("" for none yet)."""
    text: str
    has_attachments: bool = False
    language: str | None = None
    """The detected language (ISO 639-1); None when no language was detected with confidence."""

    @classmethod
    def of(cls, ticket: TicketSubmitted, language: str | None = None) -> RequestFacts:
        return cls(
            category=ticket.category,
            text=ticket_text(ticket),
            has_attachments=bool(ticket.attachments),
            language=language,
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
    language: str | None = None,
) -> RoutingDecision:
    return assess(
        RequestFacts.of(ticket, language),
        prediction,
        policy,
        model_version=model_version,
        account_kind=account_kind,
    ).decision


def _corroborated(
    found: tuple[RuleHit, ...],
    request: RequestFacts,
    prediction: Prediction | None,
    policy: RoutingPolicy,
) -> tuple[tuple[RuleHit, ...], tuple[str, ...]]:
    """The hits that count, and a line for each pattern match set aside: in a long text a
    pattern counts only if the model gives the rule's team `corroboration` or more."""
    if prediction is None or len(request.text.split()) < policy.long_text_words:
        return found, ()
    kept, set_aside = [], []
    for hit in found:
        team = hit.rule.team
        if hit.via == "text" and team and prediction.probability(team) < policy.corroboration:
            set_aside.append(
                f"rule:{hit.rule.id} by text set aside: a long text that reads as"
                f" {prediction.team} ({prediction.confidence:.0%}), not {team}"
            )
        else:
            kept.append(hit)
    return tuple(kept), tuple(set_aside)


def assess(
    request: RequestFacts,
    prediction: Prediction | None,
    policy: RoutingPolicy,
    *,
    model_version: str = NO_MODEL_VERSION,
    account_kind: str | None = None,
) -> Routed:
    catalog, triage = policy.catalog, policy.catalog.triage_team
    picked = catalog.team_for(request.category)
    customer_team = None if picked == triage else picked
    unreadable = not policy.reads(request.language)
    intents = dict(prediction.intents) if prediction and not unreadable else None
    found = (
        ()
        if unreadable
        else hits(policy.rules, request.category, request.text, intents, account_kind)
    )
    found, set_aside = _corroborated(found, request, prediction, policy)
    routed_by = routing_hit(found)

    if unreadable:
        team, reason, confidence = triage, "triage", None
        explanation = (
            f"written in {request.language}; the model reads {', '.join(sorted(policy.languages))}:"
            " a person who reads it routes it"
        )
    elif routed_by is not None and routed_by.rule.team is not None:
        team, reason = routed_by.rule.team, f"rule:{routed_by.rule.id}"
        confidence = prediction.probability(team) if prediction else None
        explanation = routed_by.rule.description
    elif prediction is not None:
        thresholds = policy.thresholds
        if request.language not in (None, "en"):
            thresholds = replace(thresholds, triage_below=policy.foreign_triage_below)
        outcome = decide_team(customer_team, prediction, thresholds, triage)
        team, reason, confidence = outcome.team, outcome.reason, outcome.confidence
        explanation = _explain(outcome.reason, team, customer_team, prediction)
    elif customer_team is not None:
        team, reason, confidence = customer_team, "customer_category", None
        explanation = "no model loaded: the customer's category decides"
    else:
        team, reason, confidence = triage, "triage", None
        explanation = "no model loaded and no category to go by"

    # The pick stands while the request stays with the picked team, or waits for a person.
    pick_stands = customer_team is not None and team in (customer_team, triage)
    match = compose(
        found,
        catalog,
        request.category,
        team,
        routed_by=routed_by,
        pick_stands=pick_stands,
        exempt=exempted(policy.rules, request.category, account_kind),
    )
    docs_missing = bool(match.documents) and not request.has_attachments
    reasons = (*match.contributions, *set_aside)
    decision = RoutingDecision(
        team=team,
        intent=prediction.intent if prediction and not unreadable else None,
        confidence=1.0 if confidence is None else confidence,
        priority=match.priority,
        customer_category=request.category,
        customer_team=customer_team,
        rerouted_from=customer_team if customer_team and team != customer_team else None,
        reason=reason,
        explanation=explanation,
        model_version=model_version,
        runner_up=tuple(
            TeamScore(team=t, probability=round(p, 4))
            for t, p in (prediction.ranking if prediction and not unreadable else ())
            if t != team
        )[:3],
        required_documents_missing=docs_missing,
        required_documents=match.documents if docs_missing else (),
        flags=match.flags,
        language=request.language,
        contributions=reasons,
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
