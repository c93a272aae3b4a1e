"""The policy composes (pure): the routing rule, every rule's documents, the highest priority,
the model's intent as evidence, a pick that brings its rule only while it stands, long texts,
and requests in a language the model cannot read."""

from __future__ import annotations

import pytest

from router.classifier.types import Prediction
from router.domain.routing import RequestFacts, assess
from router.language import LanguageDetector
from router.policy import shipped_policy
from shared.contracts.catalog import load_catalog
from shared.contracts.events import Priority, RoutingDecision

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
POLICY = shipped_policy()
ID_PHOTOS = ("id-front", "selfie-with-id")


def sure(team: str, p: float = 0.98, intent: str | None = None) -> Prediction:
    rest = (1 - p) / 8
    others = [t for t in CATALOG.teams if t not in (team, CATALOG.triage_team)]
    ranking = ((team, p), *((t, rest) for t in others))
    intents = ((intent, p),) if intent else ()
    return Prediction(team, intent, p, ranking, intents)


def decide(
    category: str,
    text: str,
    prediction: Prediction | None,
    *,
    account_kind: str | None = None,
    language: str | None = None,
    attachments: bool = False,
) -> RoutingDecision:
    facts = RequestFacts(category, text, has_attachments=attachments, language=language)
    return assess(facts, prediction, POLICY, account_kind=account_kind).decision


def test_a_2fa_reset_filed_as_unauthorised_activity_is_urgent_security_and_needs_documents() -> (
    None
):
    d = decide("unauthorised-activity", "I lost my phone, please disable my 2FA", sure("security"))
    assert (d.team, d.priority, d.reason) == ("security", Priority.URGENT, "rule:id-documents-2fa")
    assert d.required_documents_missing
    assert d.required_documents == ID_PHOTOS
    assert any(
        c.startswith("rule:account-takeover by category: priority urgent") for c in d.contributions
    )
    assert any(
        c.startswith("rule:id-documents-2fa by text: routes to security") for c in d.contributions
    )


def test_documents_come_from_every_matching_rule() -> None:
    d = decide("account", "I was hacked! Please change my e-mail address back", sure("security"))
    assert (d.team, d.priority, d.reason) == ("security", Priority.URGENT, "rule:account-takeover")
    assert d.required_documents == ID_PHOTOS  # from the e-mail change rule, matched too


def test_a_wrong_pick_does_not_bring_its_rule_along() -> None:
    d = decide("unauthorised-activity", "My card still has not arrived", sure("cards"))
    assert (d.team, d.priority) == ("cards", Priority.NORMAL)
    assert d.rerouted_from == "security"
    assert d.contributions == ()


def test_a_kept_pick_brings_its_rule() -> None:
    d = decide("unauthorised-activity", "please look at my account", sure("security", 0.6))
    assert (d.team, d.priority) == ("security", Priority.URGENT)


def test_the_models_intent_asks_for_the_documents_whatever_the_category() -> None:
    text = "got a new handset and the six digit codes app is empty now, cannot get in"
    d = decide("account", text, sure("security", 0.9, intent="disable_2fa"))
    assert d.team == "security"
    assert d.required_documents == ID_PHOTOS
    assert any(c.startswith("rule:id-documents-2fa by intent") for c in d.contributions)
    with_photos = decide("account", text, sure("security", 0.9, "disable_2fa"), attachments=True)
    assert not with_photos.required_documents_missing


def test_a_detected_takeover_is_urgent() -> None:
    text = "there are trades on my account this morning that I never placed"
    d = decide("trading", text, sure("security", 0.9, intent="account_takeover"))
    assert (d.team, d.priority) == ("security", Priority.URGENT)


def test_a_login_from_a_new_device_that_was_not_me_is_a_takeover() -> None:
    text = "I got an alert about a login from a new device in another country, it was not me"
    d = decide("account", text, sure("account", 0.6))
    assert (d.team, d.priority, d.reason) == ("security", Priority.URGENT, "rule:account-takeover")


def test_corporate_accounts_are_exempt_from_the_several_accounts_rule() -> None:
    text = "We have two accounts for our trading desks, can we keep both?"
    person = decide("several-accounts", text, sure("account"))
    corporate = decide("several-accounts", text, sure("account"), account_kind="corporate")
    assert person.flags == ("several_accounts",)
    assert corporate.flags == ()
    assert corporate.contributions == ()


def test_one_alarming_word_in_a_long_complaint_does_not_make_it_a_security_case() -> None:
    rant = " ".join(
        ["I asked for my withdrawal of 2 ETH a week ago and it is still pending."] * 12
        + ["Honestly this feels like a scam, nobody answers me."]
        + ["Please just send my withdrawal or tell me why it is stuck."] * 4
    )
    d = decide("withdrawals", rant, sure("withdrawals-transfers", 0.95))
    assert (d.team, d.priority) == ("withdrawals-transfers", Priority.NORMAL)
    assert any("account-takeover by text set aside" in c for c in d.contributions)
    # The same words in a short message still count.
    short = decide("withdrawals", "This is a scam, I was phished", sure("withdrawals-transfers"))
    assert (short.team, short.priority) == ("security", Priority.URGENT)


def test_a_language_the_model_cannot_read_goes_to_triage_with_its_language() -> None:
    text = "Il mio deposito di 200 USDT non è ancora arrivato"
    d = decide("deposits", text, sure("cards", 0.99), language="it")
    assert (d.team, d.reason, d.language) == ("triage", "triage", "it")
    assert "written in it" in d.explanation
    assert d.customer_team == "payments-deposits"  # kept for the person who routes it
    assert d.runner_up == ()
    english = decide("deposits", "My deposit is missing", sure("payments-deposits"), language="en")
    assert english.team == "payments-deposits"


def test_a_language_the_model_reads_needs_a_surer_model_without_a_pick() -> None:
    text = "Meine Einzahlung von 200 USDT ist seit gestern nicht angekommen"
    unsure = decide("", text, sure("payments-deposits", 0.7), language="de")
    assert (unsure.team, unsure.language) == ("triage", "de")
    surer = decide("", text, sure("payments-deposits", 0.85), language="de")
    assert surer.team == "payments-deposits"
    english = decide("", "My deposit is missing", sure("payments-deposits", 0.7), language="en")
    assert english.team == "payments-deposits"  # English keeps the calibrated 0.4


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Meine Einzahlung von 200 USDT ist nicht angekommen", "de"),
        ("Mi retiro está pendiente desde ayer y nadie me responde", "es"),
        ("Не пришел депозит USDT", "ru"),  # noqa: RUF001 - Russian, on purpose
        ("Para çekme işlemim iki gündür beklemede", "tr"),
        ("My card was ordered a month ago and it is still not here.", "en"),
        ("2FA reset pls", None),  # too short to tell: read as the model's language
    ],
)
def test_the_language_is_detected_only_when_the_text_says(text: str, language: str | None) -> None:
    assert LanguageDetector().language_of(text) == language
