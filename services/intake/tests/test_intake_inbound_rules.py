"""The pure rules of an e-mail answer: who wrote it (a person or a machine, which address), what
the trusted MTA found, and what new text it adds; and the reply address's tag."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from intake.domain.inbound import authentication, automatic_reason, new_text, normalise_address
from shared.contracts.reply_address import reply_address, ticket_of

pytestmark = pytest.mark.unit

SECRET, DOMAIN = "k" * 40, "reply.helpcentre.example"


def message(text: str = "Hello", **headers: str) -> EmailMessage:
    mail = EmailMessage()
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    ("headers", "envelope", "why"),
    [
        ({}, "", "bounce"),
        ({}, "<>", "bounce"),
        ({"Auto_Submitted": "auto-replied"}, "a@x.org", "Auto-Submitted: auto-replied"),
        ({"Auto_Submitted": "auto-generated; owner-email=x"}, "a@x.org", "auto-generated"),
        ({"Precedence": "bulk"}, "a@x.org", "Precedence: bulk"),
        ({"Precedence": "auto_reply"}, "a@x.org", "Precedence: auto_reply"),
        ({"Precedence": "junk"}, "a@x.org", "Precedence: junk"),
        ({"X_Autoreply": "yes"}, "a@x.org", "X-Autoreply"),
        ({"X_Autorespond": "yes"}, "a@x.org", "X-Autorespond"),
    ],
)
def test_machines_are_told_apart(headers: dict[str, str], envelope: str, why: str) -> None:
    reason = automatic_reason(message(**headers), envelope)
    assert reason is not None
    assert why in reason


def test_a_person_writes_with_auto_submitted_no_or_none() -> None:
    assert automatic_reason(message(), "alice@example.com") is None
    assert automatic_reason(message(Auto_Submitted="no"), "alice@example.com") is None
    # Outlook asks others not to auto-respond: that is a person's mail.
    assert automatic_reason(message(X_Auto_Response_Suppress="All"), "alice@example.com") is None


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Alice <Alice@Example.COM>", "alice@example.com"),
        ("alice@example.com", "alice@example.com"),
        ("<ALICE@example.com>", "alice@example.com"),
        ("", ""),
        ("not an address", ""),
        ("a@x.org, b@y.org", ""),  # several senders: nobody's in particular
    ],
)
def test_addresses_compare_normalised(raw: str, normal: str) -> None:
    assert normalise_address(raw) == normal


@pytest.mark.parametrize(
    ("results", "passes"),
    [
        (["mx.trusted; dmarc=pass header.from=example.com"], True),
        (["mx.trusted; dkim=pass header.d=example.com"], True),
        (["mx.trusted; dkim=pass header.d=mail.example.com"], True),  # relaxed alignment
        (["mx.trusted; dkim=pass header.d=evil.org"], False),  # signed, but not by the sender
        (["mx.trusted; dmarc=fail; dkim=fail header.d=example.com"], False),
        (["evil.org; dmarc=pass"], False),  # not the trusted server's word
        (["garbled;;;", "mx.trusted; dmarc=pass"], True),
        ([], False),
    ],
)
def test_only_the_trusted_servers_results_count(results: list[str], passes: bool) -> None:
    mail = message()
    for result in results:
        mail["Authentication-Results"] = result
    found = authentication(mail, frozenset({"mx.trusted"}), "example.com")
    assert found.passes is passes


def test_the_new_text_is_kept_without_the_quoted_mail_or_the_signature() -> None:
    text = (
        "Yes, that is my address.\n\nThanks,\nAlice\n\n"
        "On Mon, 1 Dec 2026 at 10:00, Help Centre <support@h.example> wrote:\n"
        "> Which address did you withdraw to?\n"
    )
    assert new_text(message(text)) == "Yes, that is my address.\n\nThanks,\nAlice"
    german = "Hier ist das Foto.\n\nAm Mo., 1. Dez. 2026 um 10:00 schrieb Help Centre:\n> Alt\n"
    assert new_text(message(german)) == "Hier ist das Foto."


def test_html_becomes_plain_text_and_a_script_nothing() -> None:
    mail = EmailMessage()
    mail.set_content("<p>Photo <b>attached</b></p><script>alert(1)</script>", subtype="html")
    text = new_text(mail)
    assert "Photo attached" in text
    assert "<" not in text
    assert "alert" not in text


def test_a_reply_address_names_its_request_and_no_other() -> None:
    address = reply_address("7KQ2-M9XD-4TRA", SECRET, DOMAIN)
    assert address.startswith("request+7kq2-m9xd-4tra.")
    assert ticket_of(address, SECRET, DOMAIN) == "7KQ2-M9XD-4TRA"
    assert ticket_of(f"Alice's answer <{address.upper()}>", SECRET, DOMAIN) == "7KQ2-M9XD-4TRA"
    other = reply_address("AAAA-BBBB-CCCC", SECRET, DOMAIN)
    tag = other.split(".", 1)[1].split("@")[0]
    for forged in (
        f"request+7kq2-m9xd-4tra.{tag}@{DOMAIN}",  # another request's tag
        "request+7kq2-m9xd-4tra@" + DOMAIN,  # no tag: the old, guessable form
        address.replace(DOMAIN, "example.org"),  # another domain
        reply_address("7KQ2-M9XD-4TRA", "another secret" * 3, DOMAIN),
        "postmaster@" + DOMAIN,
    ):
        assert ticket_of(forged, SECRET, DOMAIN) is None, forged
