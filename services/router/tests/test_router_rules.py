from __future__ import annotations

from pathlib import Path

import pytest

from router.domain.rules import (
    PolicyRule,
    apply_rules,
    first_text_match,
    hits,
    load_rules,
    parse_rules,
)
from shared.contracts.catalog import load_catalog
from shared.contracts.events import Priority

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
RULES = load_rules(None, CATALOG)
ID_PHOTOS = ("id-front", "selfie-with-id")


def first_match(category: str, text: str, account_kind: str | None = None) -> PolicyRule | None:
    """The first rule the pick or the text matches (no model)."""
    found = hits(RULES, category, text, account_kind=account_kind)
    return found[0].rule if found else None


@pytest.mark.parametrize(
    ("category", "text", "rule_id"),
    [
        ("trading", "Someone logged in and took my BTC", "account-takeover"),
        ("withdrawals", "I think I was phished, my balance is gone", "account-takeover"),
        ("unauthorised-activity", "please check", "account-takeover"),
        ("account", "I lost my phone and need to disable 2FA", "id-documents-2fa"),
        ("technical", "my google authenticator is not working after reset", "id-documents-2fa"),
        ("withdrawals", "I forgot my withdrawal protection code", "id-documents-wpc"),
        ("account", "How do I change my email address?", "id-documents-email-change"),
        ("account", "I have two accounts, can I merge them?", "several-accounts"),
        ("several-accounts", "help", "several-accounts"),
    ],
)
def test_rules_match(category: str, text: str, rule_id: str) -> None:
    rule = first_match(category, text)
    assert rule is not None
    assert rule.id == rule_id


@pytest.mark.parametrize(
    ("category", "text"),
    [
        ("withdrawals", "My withdrawal has been pending for two days"),
        ("cards", "My card has not arrived"),
        ("deposits", "Which network should I use for USDT deposits?"),
    ],
)
def test_ordinary_requests_match_no_rule(category: str, text: str) -> None:
    assert first_match(category, text) is None


def test_the_first_rule_routes_and_every_rule_adds_its_documents() -> None:
    # takeover comes before the 2FA rule: a hijacked account with 2FA changed is urgent, and
    # the 2FA rule still asks for the ID photos
    match = apply_rules(RULES, CATALOG, "disable-2fa", "My account was hacked and 2FA was disabled")
    assert match.rule is not None
    assert match.rule.id == "account-takeover"
    assert match.priority is Priority.URGENT
    assert match.documents == ID_PHOTOS


def test_corporate_accounts_are_exempt_from_the_several_accounts_rule() -> None:
    text = "We have several accounts for our desks"
    assert first_match("account", text, "corporate") is None


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown team"):
        parse_rules({"rules": [{"id": "x", "team": "nope"}]}, CATALOG)
    with pytest.raises(ValueError, match="unique"):
        parse_rules({"rules": [{"id": "x"}, {"id": "x"}]}, CATALOG)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"documents": ["passport-scan"]}, r"rule 'x': unknown documents: \['passport-scan'\]"),
        ({"guidance": ["be-nice"]}, r"rule 'x': unknown guidance: \['be-nice'\]"),
        ({"requires_id_documents": True}, "replaced by documents"),
        ({"categories": ["crypto-loans"]}, "unknown categories"),
        ({"precision": 1.0}, "precision"),
        ({"team_name": "security"}, "unknown keys"),
    ],
)
def test_rules_name_only_what_the_catalog_knows(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules({"rules": [{"id": "x", **entry}]}, CATALOG)


def test_a_bad_rules_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nid = "x"\nrequires_id_documents = true\n')
    with pytest.raises(ValueError, match=f"{path}: rule 'x'"):
        load_rules(path, CATALOG)


def test_the_shipped_rules_name_documents_and_guidance() -> None:
    by_id = {r.id: r for r in RULES}
    for rule_id in ("id-documents-2fa", "id-documents-wpc", "id-documents-email-change"):
        assert by_id[rule_id].documents == ID_PHOTOS
        assert by_id[rule_id].requires_id_documents
    assert by_id["several-accounts"].guidance == ("one-account",)
    assert by_id["account-takeover"].guidance == ("never-share-credentials",)
    assert not by_id["account-takeover"].requires_id_documents


def test_documents_come_from_the_rule_else_from_the_category() -> None:
    by_text = apply_rules(RULES, CATALOG, "withdrawals", "please reset my 2FA, I lost my phone")
    assert by_text.rule is not None
    assert (by_text.rule.id, by_text.documents) == ("id-documents-2fa", ID_PHOTOS)
    # The takeover rule wins and needs no documents; the picked category still does.
    hacked = apply_rules(RULES, CATALOG, "change-email", "I was hacked, change my e-mail back")
    assert hacked.rule is not None
    assert hacked.rule.id == "account-takeover"
    assert hacked.documents == ID_PHOTOS
    assert hacked.guidance == ("never-share-credentials",)
    plain = apply_rules(RULES, CATALOG, "withdrawals", "my withdrawal is pending")
    assert (plain.rule, plain.documents, plain.guidance) == (None, (), ())


def test_an_exempt_account_gets_neither_the_rule_nor_its_categorys_guidance() -> None:
    text = "I have two accounts"
    person = apply_rules(RULES, CATALOG, "several-accounts", text)
    corporate = apply_rules(RULES, CATALOG, "several-accounts", text, "corporate")
    assert person.guidance == ("one-account",)
    assert (corporate.rule, corporate.guidance) == (None, ())


def test_a_text_match_ignores_the_picked_category() -> None:
    assert first_match("several-accounts", "my card is late") is not None
    assert first_text_match(RULES, "my card is late") is None
    rule = first_text_match(RULES, "I forgot my withdrawal protection code")
    assert rule is not None
    assert rule.id == "id-documents-wpc"
