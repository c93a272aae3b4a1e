"""Suggestions as the customer sees them: the classification trimmed to categories in the
catalog's words, documents and guidance; nothing when the router does not answer."""

from __future__ import annotations

import pytest

from intake.api.schemas import SuggestionOut
from intake.domain.suggestions import NO_SUGGESTION, for_customer
from intake.service.errors import RateLimitedError
from intake.service.suggestions import NoClassifier, Suggestions
from shared.contracts.catalog import load_catalog
from shared.contracts.classification import CategoryScore, Classification, ClassifyRequest

from .intake_fakes import FakeRateLimiter

pytestmark = pytest.mark.unit

CATALOG = load_catalog()


def classification(*scores: tuple[str, float]) -> Classification:
    category = CATALOG.category(scores[0][0])
    assert category is not None
    return Classification(
        team=category.team,
        confidence=0.9,
        rule="id-documents-2fa",
        categories=tuple(
            CategoryScore(id=i, label=CATALOG.category(i).label, probability=p)  # type: ignore[union-attr]
            for i, p in scores
        ),
        documents=CATALOG.documents_of(("id-front", "selfie-with-id")),
        guidance=CATALOG.guidance_of(("never-share-credentials",)),
        model_version="test",
    )


def test_the_likely_category_is_proposed_with_documents_and_guidance() -> None:
    suggestion = for_customer(
        classification(("disable-2fa", 0.8), ("unauthorised-activity", 0.1)),
        CATALOG,
        propose_above=0.5,
    )
    assert suggestion.suggested is not None
    assert suggestion.suggested.id == "disable-2fa"
    assert [c.id for c in suggestion.categories] == ["disable-2fa", "unauthorised-activity"]
    assert [d.id for d in suggestion.documents] == ["id-front", "selfie-with-id"]
    assert [g.id for g in suggestion.guidance] == ["never-share-credentials"]


def test_an_unsure_text_proposes_nothing_and_something_else_is_never_proposed() -> None:
    unsure = for_customer(
        classification(("withdrawals", 0.4), ("deposits", 0.3)), CATALOG, propose_above=0.5
    )
    assert unsure.suggested is None
    assert [c.id for c in unsure.categories] == ["withdrawals", "deposits"]
    other = for_customer(classification(("other", 0.9)), CATALOG, propose_above=0.5)
    assert other.suggested is None
    assert other.categories == ()


def test_what_the_customer_reads_names_no_team_probability_or_rule() -> None:
    suggestion = for_customer(classification(("disable-2fa", 0.8)), CATALOG, propose_above=0.5)
    text = SuggestionOut.of(suggestion, "en").model_dump_json()
    for internal in ("security", "0.8", "0.9", "id-documents-2fa", "confidence", "team"):
        assert internal not in text
    assert "Disable 2FA" in text


class SlowRouter:
    def __init__(self) -> None:
        self.asked: list[ClassifyRequest] = []

    async def classify(self, request: ClassifyRequest) -> Classification | None:
        self.asked.append(request)
        return None  # what the adapter answers on a timeout


async def test_no_answer_from_the_router_is_an_empty_suggestion() -> None:
    router = SlowRouter()
    service = Suggestions(router, CATALOG, rate_limiter=FakeRateLimiter())
    suggestion = await service.suggest(
        account_id="acc-1", subject="Withdrawal", description="x" * 30_000, category="trading"
    )
    assert suggestion == NO_SUGGESTION
    (asked,) = router.asked
    assert len(asked.description) == 10_000  # the opening says enough
    assert asked.category == "trading"
    assert asked.account_id == "acc-1"


async def test_too_little_text_is_not_sent_and_suggestions_are_rate_limited() -> None:
    router = SlowRouter()
    service = Suggestions(router, CATALOG, rate_limiter=FakeRateLimiter(limit=2), rate_limit=2)
    empty = await service.suggest(account_id="a", subject="Hi", description="", category=None)
    assert empty.available
    assert empty.categories == ()
    assert router.asked == []
    for _ in range(2):
        await service.suggest(
            account_id="a", subject="Card", description="lost my card", category=None
        )
    with pytest.raises(RateLimitedError):
        await service.suggest(
            account_id="a", subject="Card", description="lost my card", category=None
        )


async def test_without_a_router_there_is_never_a_suggestion() -> None:
    service = Suggestions(NoClassifier(), CATALOG, rate_limiter=FakeRateLimiter())
    suggestion = await service.suggest(
        account_id="a", subject="Withdrawal", description="pending for days", category=None
    )
    assert not suggestion.available
