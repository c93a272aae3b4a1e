"""What a customer is told while typing a request (pure): the router's classification trimmed
to what is meant for them — categories in the catalog's words, the documents the request
will need, the Help Centre's guidance. Never a team name, a probability or a rule's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.catalog import Catalog, Category, Document, Guidance
from shared.contracts.classification import Classification

MIN_TEXT_TO_CLASSIFY = 12  # characters: fewer say too little to suggest anything


@dataclass(frozen=True, slots=True)
class CustomerSuggestion:
    suggested: Category | None
    """The category to propose: the most likely one, when likely enough."""
    categories: tuple[Category, ...]
    """Likely categories, most likely first (the drop-down may show them on top)."""
    documents: tuple[Document, ...]
    """What to attach now, so that nobody has to ask for it later."""
    guidance: tuple[Guidance, ...]
    available: bool = True
    """False: no suggestion could be made (the router did not answer in time)."""


NO_SUGGESTION = CustomerSuggestion(None, (), (), (), available=False)


def worth_classifying(subject: str, description: str) -> bool:
    return len(subject.strip()) + len(description.strip()) >= MIN_TEXT_TO_CLASSIFY


def for_customer(
    classification: Classification, catalog: Catalog, *, propose_above: float
) -> CustomerSuggestion:
    """The customer's part of a classification. Categories of the triage team ("Something
    else") are never proposed: they are what a customer picks when nothing fits."""
    likely = [
        (category, score.probability)
        for score in classification.categories
        if (category := catalog.category(score.id)) is not None
        and category.team != catalog.triage_team
    ]
    suggested = likely[0][0] if likely and likely[0][1] >= propose_above else None
    return CustomerSuggestion(
        suggested=suggested,
        categories=tuple(category for category, _ in likely),
        documents=classification.documents,
        guidance=classification.guidance,
    )
