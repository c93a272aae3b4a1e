"""Each kind of mail through a real SMTP exchange (aiosmtpd into a Maildir), read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import wait_for_mail
from notifier.adapters.smtp import SmtpMailer
from notifier.domain.compose import MailSettings, compose, thread_root_id
from notifier.domain.plan import plan
from notifier.domain.templates import mail_templates
from notifier.settings import NotifierSettings
from shared.contracts.directory import AccountRecord
from shared.contracts.events import (
    AgentReplied,
    CustomerReminded,
    Envelope,
    InformationRequested,
    StatusChanged,
    StatusTransition,
    TicketSubmitted,
    new_ticket_id,
)
from shared.contracts.reply_address import reply_address
from shared.contracts.statuses import Status
from shared.settings import DEVELOPMENT_REPLY_SECRET

pytestmark = pytest.mark.integration

ALICE = AccountRecord(
    account_id="acc-1001", email="alice@example.com", email_verified=True, display_name="Alice"
)
MAIL = MailSettings(
    "Help Centre <support@helpcentre.example>",
    "helpcentre.example",
    "reply.helpcentre.example",
    "http://localhost:8004",
)


def events(ticket_id: str) -> list[Envelope]:
    base = {"ticket_id": ticket_id, "account_id": "acc-1001", "correlation_id": "c"}
    change = StatusTransition(from_status=Status.OPEN, to_status=Status.SOLVED)
    return [
        TicketSubmitted(
            **base,
            category="disable-2fa",
            subject="Lost phone",
            description="Please disable 2FA",
            required_documents_missing=True,
        ),
        AgentReplied(**base, agent_id="agent-1", body="We reset it <b>now</b>."),
        InformationRequested(
            **base,
            agent_id="agent-1",
            body="Which device?",
            documents_requested=("ID front", "ID back"),
        ),
        CustomerReminded(
            **base, rule_id="remind-pending-3d", waiting_since=datetime(2026, 11, 28, tzinfo=UTC)
        ),
        StatusChanged(**base, actor_id="agent-1", actor_role="agent", status_change=change),
        StatusChanged(
            **base,
            actor_id="agent-1",
            actor_role="agent",
            status_change=StatusTransition(from_status=Status.SOLVED, to_status=Status.CLOSED),
        ),
    ]


async def test_every_kind_arrives_threaded_with_both_parts(infra: EmbeddedStack) -> None:
    ticket_id = new_ticket_id()
    mailer = SmtpMailer(
        NotifierSettings(smtp_host=infra.config.host, smtp_port=infra.config.ports.smtp)
    )
    planned = [p for e in events(ticket_id) for p in plan(e)]
    assert len(planned) == 7  # ack + documents, reply, information, reminder, solved, closed
    for notification in planned:
        await mailer.send(compose(notification, ALICE, mail_templates()("en"), MAIL))

    mails = await wait_for_mail(
        infra.config.maildir, lambda m: str(m["X-Request-Id"]) == ticket_id, timeout=10
    )
    assert len(mails) == 7
    root = thread_root_id(ticket_id, "helpcentre.example")
    for mail in mails:
        assert mail["X-Envelope-To"] == "alice@example.com"
        assert mail["To"] == "Alice <alice@example.com>"
        assert str(mail["Subject"]).startswith(f"[Request #{ticket_id}] ")
        assert mail["Reply-To"] == reply_address(
            ticket_id, DEVELOPMENT_REPLY_SECRET, "reply.helpcentre.example"
        )
        assert mail.get_body(("plain",)) is not None
        assert mail.get_body(("html",)) is not None
        if mail["Message-ID"] != root:
            assert mail["In-Reply-To"] == root
            assert mail["References"] == root
    assert sum(1 for m in mails if m["Message-ID"] == root) == 1
    subjects = {str(m["Subject"]).split("] ", 1)[1] for m in mails}
    assert subjects == {
        "We received your request",
        "We need documents for your request",
        "New reply to your request",
        "We need more information",
        "We are waiting for your reply",
        "Your request is solved",
        "Your request is closed",
    }
    reply = next(m for m in mails if "New reply" in str(m["Subject"]))
    html = reply.get_body(("html",))
    assert html is not None
    assert "&lt;b&gt;now&lt;/b&gt;" in html.get_content()
