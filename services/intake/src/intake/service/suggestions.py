"""Suggestions while a customer types: ask the router, trim its answer for the customer.
Submission never depends on this: no answer in time is no suggestion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from intake.domain.suggestions import (
    NO_SUGGESTION,
    CustomerSuggestion,
    for_customer,
    worth_classifying,
)
from intake.ports import Classifier, RateLimiter
from intake.service.errors import RateLimitedError
from shared.contracts.catalog import Catalog
from shared.contracts.classification import MAX_CLASSIFY_TEXT, ClassifyRequest

MAX_SUBJECT = 200


class NoClassifier:
    """Where no router is configured (the mail receiver's process): never a suggestion."""

    async def classify(self, request: ClassifyRequest) -> None:
        return None


@dataclass
class Suggestions:
    classifier: Classifier
    catalog: Catalog
    rate_limiter: RateLimiter
    rate_limit: int = 120
    rate_window: timedelta = timedelta(minutes=1)
    propose_above: float = 0.5

    async def suggest(
        self, *, account_id: str, subject: str, description: str, category: str | None
    ) -> CustomerSuggestion:
        if not worth_classifying(subject, description):
            return CustomerSuggestion(None, (), (), ())
        decision = await self.rate_limiter.acquire(account_id, uuid4().hex)
        if not decision.allowed:
            raise RateLimitedError(
                "suggestions", self.rate_limit, self.rate_window, decision.retry_after_seconds
            )
        classification = await self.classifier.classify(
            ClassifyRequest(
                # The opening of a long text says what it is about; the rest is not needed.
                subject=subject[:MAX_SUBJECT],
                description=description[:MAX_CLASSIFY_TEXT],
                category=category or None,
                account_id=account_id,
            )
        )
        if classification is None:
            return NO_SUGGESTION
        return for_customer(classification, self.catalog, propose_above=self.propose_above)
