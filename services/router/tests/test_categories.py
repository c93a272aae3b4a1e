"""Category suggestions (pure): the intent map, the model's categories, the rules' evidence,
and the whole classification (team, categories, documents, guidance) of a request."""

from __future__ import annotations

import math

import pytest

from router.classifier.data import load_examples
from router.classifier.types import Prediction
from router.domain.categories import (
    category_scores,
    model_categories,
    odds_factor,
    parse_category_map,
    shown,
    with_rule_evidence,
)
from router.domain.classification import classify
from router.domain.rules import PolicyRule
from router.policy import shipped_policy
from shared.contracts.catalog import load_catalog
from shared.contracts.classification import ClassifyRequest

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
POLICY = shipped_policy()
CATEGORIES = POLICY.categories
ID_PHOTOS = ["id-front", "selfie-with-id"]


def prediction(teams: dict[str, float], intents: dict[str, float] | None = None) -> Prediction:
    ranking = tuple(sorted(teams.items(), key=lambda item: -item[1]))
    listed = tuple(sorted((intents or {}).items(), key=lambda item: -item[1]))
    top_intent = listed[0][0] if listed else None
    return Prediction(ranking[0][0], top_intent, ranking[0][1], ranking, listed)


def rule(categories: set[str], precision: float) -> PolicyRule:
    return PolicyRule(id="r", description="", categories=frozenset(categories), precision=precision)


# -- the intent map -------------------------------------------------------------------------


def test_every_training_intent_maps_to_a_category_of_its_own_team() -> None:
    intents = {e.intent: e.team for e in load_examples() if e.intent}
    for intent, team in intents.items():
        category = CATEGORIES.category_of(intent, team)
        assert category is not None, intent
        assert CATEGORIES.category_teams[category] == team, intent
    # the categories that share a team are told apart by their own intents
    assert CATEGORIES.category_of("disable_2fa", "security") == "disable-2fa"
    assert CATEGORIES.category_of("disable_wpc", "security") == "disable-wpc"
    assert CATEGORIES.category_of("compromised_card", "security") == "unauthorised-activity"
    assert CATEGORIES.category_of("change_account_email", "account") == "change-email"
    assert CATEGORIES.category_of("several_accounts", "account") == "several-accounts"
    assert CATEGORIES.category_of("terminate_account", "account") == "account"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"intents": {"x": "crypto-loans"}}, "unknown categories"),
        ({"teams": {"account": "account"}}, "team 'security' has categories"),
        ({"teams": {"security": "account", "account": "account"}}, "another team's"),
        ({"teams": {"security": "disable-2fa", "account": "account", "ops": "cards"}}, "ops"),
    ],
)
def test_the_map_is_checked_against_the_catalog(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_category_map(raw, CATALOG)


# -- step 1: the model through the map ------------------------------------------------------


def test_intent_probabilities_add_up_per_category_and_the_rest_goes_to_the_team_default() -> None:
    p = prediction(
        {"security": 0.9, "account": 0.1},
        {"disable_2fa": 0.6, "account_takeover": 0.2, "several_accounts": 0.05},
    )
    scores = model_categories(p, CATEGORIES)
    assert scores == pytest.approx(
        {
            "disable-2fa": 0.6,
            "unauthorised-activity": 0.3,  # 0.2 listed + 0.1 of security not listed
            "several-accounts": 0.05,
            "account": 0.05,
        }
    )
    assert sum(scores.values()) == pytest.approx(1.0)


def test_without_intents_each_team_goes_to_its_default_category() -> None:
    p = prediction({"withdrawals-transfers": 0.7, "security": 0.2, "account": 0.1})
    assert model_categories(p, CATEGORIES) == pytest.approx(
        {"withdrawals": 0.7, "unauthorised-activity": 0.2, "account": 0.1}
    )


def test_a_team_the_catalog_does_not_know_is_not_claimed() -> None:
    p = prediction({"cards": 0.6, "crypto-loans": 0.4})
    assert model_categories(p, CATEGORIES) == pytest.approx({"cards": 0.6})


# -- step 2: the rules' evidence ------------------------------------------------------------


def test_a_rule_multiplies_the_odds_of_its_category() -> None:
    before = {"disable-2fa": 0.2, "unauthorised-activity": 0.6, "account": 0.2}
    matched = rule({"disable-2fa"}, 0.6)
    factor = odds_factor(matched, CATEGORIES)
    assert factor == pytest.approx(12 * 0.6 / 0.4)  # 13 customer-facing categories
    after = with_rule_evidence(before, matched, CATEGORIES)
    odds_before = before["disable-2fa"] / (1 - before["disable-2fa"])
    odds_after = after["disable-2fa"] / (1 - after["disable-2fa"])
    assert odds_after == pytest.approx(factor * odds_before)
    assert sum(after.values()) == pytest.approx(1.0)
    # the others keep their order and proportions
    assert after["unauthorised-activity"] / after["account"] == pytest.approx(3.0)


def test_a_sure_model_still_wins_over_a_weak_pattern() -> None:
    before = {"withdrawals": 0.98, "several-accounts": 0.002, "account": 0.018}
    after = with_rule_evidence(before, rule({"several-accounts"}, 0.66), CATEGORIES)
    assert max(after, key=after.__getitem__) == "withdrawals"


def test_without_a_model_the_rule_claims_its_category_with_its_precision() -> None:
    scores = category_scores(None, rule({"disable-wpc"}, 0.9), CATEGORIES)
    assert [c for c, _ in scores] == ["disable-wpc"]
    assert scores[0][1] == pytest.approx(0.9)
    assert category_scores(None, None, CATEGORIES) == ()
    assert category_scores(None, PolicyRule(id="r", description=""), CATEGORIES) == ()


def test_shown_probabilities_are_rounded_down() -> None:
    values = [1 / 3, 1 / 3, 1 / 3]
    assert sum(shown(v) for v in values) <= 1.0
    assert shown(0.99999) == 0.9999
    assert shown(1.0) == 1.0


# -- the whole classification ---------------------------------------------------------------


def ask(
    description: str,
    p: Prediction | None = None,
    *,
    category: str | None = None,
    account_kind: str | None = None,
) -> dict[str, object]:
    request = ClassifyRequest(subject="Help", description=description, category=category)
    answer = classify(request, p, POLICY, model_version="m", account_kind=account_kind)
    return answer.model_dump()


def ids(items: object) -> list[str]:
    assert isinstance(items, list | tuple)
    return [item["id"] for item in items]


def test_a_lost_2fa_phone_needs_the_id_photos_in_the_catalogs_words() -> None:
    p = prediction({"security": 0.95, "account": 0.05}, {"lost_or_stolen_phone": 0.5})
    answer = ask("Please disable my 2FA, I lost my phone", p)
    assert answer["rule"] == "id-documents-2fa"
    assert answer["team"] == "security"
    assert ids(answer["categories"])[0] == "disable-2fa"
    assert ids(answer["documents"]) == ID_PHOTOS
    documents = answer["documents"]
    assert isinstance(documents, tuple)
    assert documents[0]["label"] == CATALOG.documents_of(("id-front",))[0].label
    assert answer["guidance"] == ()


def test_several_accounts_get_the_one_account_guidance_unless_corporate() -> None:
    p = prediction({"account": 0.9, "withdrawals-transfers": 0.1}, {"several_accounts": 0.85})
    person = ask("I have two accounts", p)
    assert person["rule"] == "several-accounts"
    assert ids(person["guidance"]) == ["one-account"]
    assert ids(person["categories"])[0] == "several-accounts"
    corporate = ask("I have two accounts", p, account_kind="corporate")
    assert corporate["rule"] is None
    assert corporate["guidance"] == ()
    assert ids(corporate["categories"])[0] == "several-accounts"  # still what the text says


def test_a_takeover_is_urgent_with_the_never_share_guidance() -> None:
    answer = ask("Someone hacked my account and withdrew everything", None)
    assert (answer["team"], answer["priority"], answer["rule"]) == (
        "security",
        "urgent",
        "account-takeover",
    )
    assert ids(answer["guidance"]) == ["never-share-credentials"]
    assert ids(answer["categories"]) == ["unauthorised-activity"]
    assert answer["model_version"] == "m"


def test_a_picked_category_that_needs_documents_names_them_without_a_rule() -> None:
    answer = ask("my contact details are out of date", None, category="change-email")
    assert ids(answer["documents"]) == ID_PHOTOS
    assert answer["categories"] == ()  # no model, no rule: nothing to suggest


def test_categories_are_at_most_three_and_sum_to_at_most_one() -> None:
    p = prediction(
        {"withdrawals-transfers": 0.5, "payments-deposits": 0.3, "fees-billing": 0.1, "cards": 0.1}
    )
    answer = ask("my withdrawal did not arrive", p)
    categories = answer["categories"]
    assert isinstance(categories, tuple)
    assert ids(categories) == ["withdrawals", "deposits", "cards"]  # ties by id
    assert math.fsum(c["probability"] for c in categories) <= 1.0
    assert categories[0]["label"] == "Withdrawals and transfers"
