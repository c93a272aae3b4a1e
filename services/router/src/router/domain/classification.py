"""The answer of POST /v1/classify (pure): what routing would do with the request as it stands
(the same `assess` the Kafka path runs), the most likely categories of its text, and the
documents and guidance the policy asks for, in the catalog's words."""

from __future__ import annotations

from router.classifier.types import Prediction
from router.domain.categories import SUGGESTIONS, category_scores, shown
from router.domain.routing import (
    NO_MODEL_VERSION,
    RequestFacts,
    RoutingPolicy,
    assess,
    request_text,
)
from router.domain.rules import first_text_match
from shared.contracts.classification import CategoryScore, Classification, ClassifyRequest


def facts_of(request: ClassifyRequest, language: str | None = None) -> RequestFacts:
    """A request not submitted yet: no attachments, so whatever documents the policy asks
    for are missing, as the intake would find them at submission."""
    return RequestFacts(
        category=request.category or "",
        text=request_text(request.subject, request.description),
        language=language,
    )


def classify(
    request: ClassifyRequest,
    prediction: Prediction | None,
    policy: RoutingPolicy,
    *,
    model_version: str = NO_MODEL_VERSION,
    account_kind: str | None = None,
    language: str | None = None,
) -> Classification:
    facts = facts_of(request, language)
    routed = assess(
        facts, prediction, policy, model_version=model_version, account_kind=account_kind
    )
    decision, match = routed.decision, routed.policy
    # The text's own evidence, whatever the customer picked: a suggestion reads the words
    # (none in a language the model and the rules' patterns do not read).
    unreadable = not policy.reads(language)
    if unreadable:
        prediction = None
    text_rule = None if unreadable else first_text_match(policy.rules, facts.text, account_kind)
    catalog = policy.catalog
    suggestions = tuple(
        CategoryScore(id=c, label=category.label, probability=shown(p))
        for c, p in category_scores(prediction, text_rule, policy.categories)[:SUGGESTIONS]
        if (category := catalog.category(c)) is not None
    )
    return Classification(
        team=decision.team,
        intent=decision.intent,
        confidence=decision.confidence,
        priority=decision.priority,
        rule=match.rule.id if match.rule else None,
        categories=suggestions,
        documents=catalog.documents_of(match.documents),
        guidance=catalog.guidance_of(match.guidance),
        model_version=model_version,
    )
