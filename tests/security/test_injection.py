"""Hostile input through the running services: MongoDB operators in every JSON field, CR/LF in
everything that reaches an e-mail header, template syntax in ticket text."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any
from uuid import uuid4

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, wait_for_mail
from shared.admin import seed_directory
from shared.contracts.directory import AccountRecord
from shared.contracts.identity import Role
from shared.waiting import wait_until

from .security_support import GOOD_TICKET, components, operations, resolve, submit_ticket

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
OPERATORS: list[Any] = [{"$ne": None}, {"$gt": ""}, {"$regex": ".*"}, {"$where": "1 == 1"}]
# A valid body per route, so only the one poisoned field can be the reason for a 422.
VALID: dict[str, dict[str, Any]] = {
    "/v1/tickets": GOOD_TICKET | {"locale": "en"},
    "/comments": {"body": "a comment"},
    "/replies": {"body": "a reply", "status": "pending"},
    "/status": {"status": "on-hold", "note": "waiting"},
    "/information-requests": {"body": "please send", "documents": ["ID photo"]},
    "/suggestions": {"subject": "Withdrawal", "description": "pending for two days"},
    "/account-recovery": {"email": "nobody@example.com", "locale": "en"},
    "/link": {"token": "A" * 22 + "." + "0" * 32},
    "/notes": {"body": "an internal note"},
    "/transfers": {"team": "security", "reason": "account takeover signs"},
    "/assignment": {"assignee": "agent-2"},
}


def _valid_body(path: str) -> dict[str, Any]:
    return next(body for suffix, body in VALID.items() if path.endswith(suffix))


async def test_operators_in_every_json_field_are_422(services: EmbeddedStack) -> None:
    ticket_id = (await submit_ticket(services, account="acc-1002"))["ticket_id"]
    schemas = await components(services, "intake")
    poisoned: list[str] = []
    async with httpx.AsyncClient(base_url=services.config.url("intake"), timeout=20) as client:
        for op in await operations(services, "intake"):
            if op.json_schema is None:
                continue
            properties = resolve(op.json_schema, schemas).get("properties", {})
            assert properties, op.path
            role = Role.AGENT if op.role == "agent" else Role.CUSTOMER
            who = bearer("agent-7" if role is Role.AGENT else "acc-1002", role)
            for field in properties:
                for operator in OPERATORS:
                    body = _valid_body(op.path) | {field: operator}
                    response = await client.post(
                        op.url(ticket_id=ticket_id), headers=who, json=body
                    )
                    where = f"{op.path} {field}={operator}"
                    assert response.status_code == 422, f"{where}: {response.text}"
                    params = response.json()["invalid-params"]
                    assert any(field in p["name"] for p in params), where
                poisoned.append(f"{op.path}:{field}")
    # Every JSON field of every JSON route: submission, comment, reply, status, information.
    assert len(poisoned) >= 10, poisoned


def _mails_for(ticket_id: str) -> Any:
    return lambda m: str(m["X-Request-Id"]) == ticket_id


def _headers_are_clean(mail: EmailMessage, address: str) -> None:
    # The one recipient the directory names, and no header smuggled in by the text.
    assert mail["X-Envelope-To"] == address
    assert "Bcc" not in mail
    assert "Cc" not in mail
    assert "X-Injected" not in mail
    for name, value in mail.items():
        assert "\r" not in str(value)
        assert "\n" not in str(value).replace("\n ", "").replace("\n\t", ""), name


async def test_crlf_in_ticket_text_never_reaches_a_mail_header(services: EmbeddedStack) -> None:
    hostile = "Card\r\nBcc: victim@evil.example\r\nX-Injected: yes\r\n\r\nbody"
    accepted = await submit_ticket(services, subject=hostile, description=hostile * 2)
    mails = await wait_for_mail(
        services.config.maildir, _mails_for(accepted["ticket_id"]), timeout=DEADLINE
    )
    for mail in mails:
        _headers_are_clean(mail, "alice@example.com")


async def test_crlf_in_the_directory_display_name_never_reaches_a_mail_header(
    services: EmbeddedStack,
) -> None:
    # The display name is the one account field that lands in a header (To).
    account = f"acc-9{uuid4().hex[:6]}"
    address = f"{account}@example.com"
    await seed_directory(
        services.config.mongo_url,
        [
            AccountRecord(
                account_id=account,
                email=address,
                email_verified=True,
                display_name="Mallory\r\nBcc: victim@evil.example\r\nX-Injected: yes",
            )
        ],
    )
    accepted = await submit_ticket(services, account=account)
    (mail,) = await wait_for_mail(
        services.config.maildir, _mails_for(accepted["ticket_id"]), timeout=DEADLINE
    )
    _headers_are_clean(mail, address)
    assert "victim@evil.example" not in str(mail["To"]).split("<")[-1]


async def test_template_syntax_in_ticket_text_is_mailed_and_shown_literally(
    services: EmbeddedStack,
) -> None:
    payload = "{{7*7}} {{ config }} {% for x in range(3) %}loop{% endfor %} ${7*7} #{7*7}"
    accepted = await submit_ticket(
        services, account="acc-1002", subject=f"Help {payload}", description=payload * 2
    )
    ticket_id = accepted["ticket_id"]
    (mail,) = await wait_for_mail(
        services.config.maildir,
        lambda m: _mails_for(ticket_id)(m) and "received" in str(m["Subject"]),
        timeout=DEADLINE,
    )
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    plain, markup = text.get_content(), html.get_content()
    assert payload in plain  # data, never evaluated
    assert "{{7*7}}" in markup
    for rendered in (plain, markup):
        assert "Help 49" not in rendered
        assert "looploop" not in rendered

    async with httpx.AsyncClient(base_url=services.config.url("history"), timeout=20) as history:

        async def page() -> str | None:
            response = await history.get(f"/my-activities/{ticket_id}", headers=bearer("acc-1002"))
            return response.text if response.status_code == 200 else None

        shown = await wait_until(page, timeout=DEADLINE, what="the request page")
    assert "{{7*7}}" in shown
    assert "Help 49" not in shown
    assert "looploop" not in shown
