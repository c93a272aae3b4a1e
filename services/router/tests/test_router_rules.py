from __future__ import annotations

import pytest

from router.domain.rules import first_match, load_rules, parse_rules
from shared.contracts.catalog import load_catalog
from shared.contracts.events import Priority

pytestmark = pytest.mark.unit

RULES = load_rules(None, load_catalog().teams)


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
    rule = first_match(RULES, category, text)
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
    assert first_match(RULES, category, text) is None


def test_first_match_wins() -> None:
    # takeover comes before the 2FA rule: a hijacked account with 2FA changed is urgent
    rule = first_match(RULES, "disable-2fa", "My account was hacked and 2FA was disabled")
    assert rule is not None
    assert rule.id == "account-takeover"
    assert rule.priority is Priority.URGENT


def test_corporate_accounts_are_exempt_from_the_several_accounts_rule() -> None:
    text = "We have several accounts for our desks"
    assert first_match(RULES, "account", text, "corporate") is None


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown team"):
        parse_rules({"rules": [{"id": "x", "team": "nope"}]}, ("security",))
    with pytest.raises(ValueError, match="unique"):
        parse_rules({"rules": [{"id": "x"}, {"id": "x"}]}, ("security",))
