from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier.domain.compose import MailSettings, UnsendableError, compose, thread_root_id
from notifier.domain.plan import plan
from notifier.domain.templates import mail_templates
from shared.contracts.directory import AccountRecord
from shared.contracts.events import (
    AgentReplied,
    CommentAdded,
    CustomerReminded,
    NotificationKind,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    new_ticket_id,
)
from shared.contracts.reply_address import reply_address
from shared.contracts.statuses import Status
from shared.settings import DEVELOPMENT_REPLY_SECRET

pytestmark = pytest.mark.unit

SETTINGS = MailSettings(
    "Help Centre <support@helpcentre.example>",
    "helpcentre.example",
    "reply.helpcentre.example",
    "http://localhost:8004",
)
ALICE = AccountRecord(
    account_id="acc-1001", email="alice@example.com", email_verified=True, display_name="Alice"
)
TICKET = new_ticket_id()
ENVELOPE = {"ticket_id": TICKET, "account_id": "acc-1001", "correlation_id": "c-1"}


def submitted(**overrides: object) -> TicketSubmitted:
    return TicketSubmitted.model_validate(
        ENVELOPE
        | {"category": "withdrawals", "subject": "Stuck", "description": "Pending for days"}
        | overrides
    )


def test_submission_plans_an_acknowledgement_and_documents_when_missing() -> None:
    assert [p.kind for p in plan(submitted())] == [NotificationKind.ACKNOWLEDGEMENT]
    kinds = [p.kind for p in plan(submitted(required_documents_missing=True))]
    assert kinds == [NotificationKind.ACKNOWLEDGEMENT, NotificationKind.DOCUMENTS_NEEDED]


def test_documents_needed_is_one_per_request_whoever_noticed() -> None:
    from_intake = plan(submitted(required_documents_missing=True))[1]
    routed = TicketRouted.model_validate(
        ENVELOPE
        | {
            "team": "security",
            "confidence": 0.9,
            "customer_category": "disable-2fa",
            "reason": "rule:id-documents-2fa",
            "model_version": "m",
            "required_documents_missing": True,
        }
    )
    assert plan(routed)[0].notification_id == from_intake.notification_id


def test_what_each_activity_sends() -> None:
    reply = AgentReplied.model_validate(ENVELOPE | {"agent_id": "agent-1", "body": "Done"})
    solved = StatusChanged.model_validate(
        ENVELOPE
        | {
            "actor_id": "agent-1",
            "actor_role": "agent",
            "status_change": StatusTransition(from_status=Status.OPEN, to_status=Status.SOLVED),
        }
    )
    on_hold = solved.model_copy(
        update={
            "status_change": StatusTransition(from_status=Status.OPEN, to_status=Status.ON_HOLD)
        }
    )
    comment = CommentAdded.model_validate(ENVELOPE | {"body": "hi"})
    assert [p.kind for p in plan(reply)] == [NotificationKind.AGENT_REPLY]
    assert [p.kind for p in plan(solved)] == [NotificationKind.SOLVED]
    assert plan(on_hold) == []
    assert plan(comment) == []


def reminded(**overrides: object) -> CustomerReminded:
    return CustomerReminded.model_validate(
        ENVELOPE
        | {"rule_id": "remind-pending-3d", "waiting_since": datetime(2026, 11, 28, tzinfo=UTC)}
        | overrides
    )


def solved_by(actor_role: str, rule_id: str | None) -> StatusChanged:
    return StatusChanged.model_validate(
        ENVELOPE
        | {
            "actor_id": "automation" if rule_id else "agent-1",
            "actor_role": actor_role,
            "status_change": StatusTransition(from_status=Status.PENDING, to_status=Status.SOLVED),
            "rule_id": rule_id,
        }
    )


def test_a_reminder_plans_one_mail_keyed_by_its_event_in_the_requests_language() -> None:
    event = reminded()
    (planned,) = plan(event)
    assert planned.kind is NotificationKind.REMINDER
    assert planned.notification_id == f"{event.event_id}:reminder"
    assert planned.locale is None  # the request's, as every activity mail
    assert planned.ticket_id == TICKET
    assert "remind-pending-3d" not in repr(planned.context)  # the rule stays internal
    assert plan(event) == [planned]  # the same key however often it comes


def test_a_solve_by_automation_is_told_apart_from_an_agents() -> None:
    (automatic,) = plan(solved_by("system", "solve-pending-7d"))
    (by_agent,) = plan(solved_by("agent", None))
    assert (automatic.kind, by_agent.kind) == (NotificationKind.SOLVED, NotificationKind.SOLVED)
    assert automatic.context == {"by_automation": True}
    assert by_agent.context == {"by_automation": False}


def test_a_reminder_is_threaded_under_the_acknowledgement() -> None:
    mail = compose(plan(reminded())[0], ALICE, mail_templates()("en"), SETTINGS)
    root = thread_root_id(TICKET, "helpcentre.example")
    assert mail["Subject"] == f"[Request #{TICKET}] We are waiting for your reply"
    assert mail["Message-ID"] != root
    assert mail["In-Reply-To"] == root
    assert mail["References"] == root
    assert mail["Reply-To"] == reply_address(
        TICKET, DEVELOPMENT_REPLY_SECRET, "reply.helpcentre.example"
    )
    assert mail["X-Request-Id"] == TICKET
    assert mail["Auto-Submitted"] == "auto-generated"


def test_acknowledgement_starts_the_thread_and_replies_refer_to_it() -> None:
    templates = mail_templates()("en")
    ack = compose(plan(submitted())[0], ALICE, templates, SETTINGS)
    reply_event = AgentReplied.model_validate(ENVELOPE | {"agent_id": "agent-1", "body": "Done"})
    reply = compose(plan(reply_event)[0], ALICE, templates, SETTINGS)
    root = thread_root_id(TICKET, "helpcentre.example")
    assert ack["Message-ID"] == root
    assert "In-Reply-To" not in ack
    assert reply["In-Reply-To"] == root
    assert reply["References"] == root
    assert reply["Message-ID"] != root
    assert ack["Subject"] == f"[Request #{TICKET}] We received your request"
    assert ack["Reply-To"] == reply_address(
        TICKET, DEVELOPMENT_REPLY_SECRET, "reply.helpcentre.example"
    )
    assert ack["To"] == "Alice <alice@example.com>"


def test_both_parts_and_no_injection_from_ticket_text() -> None:
    hostile = "<script>alert(1)</script>\r\nBcc: victim@example.net {{ 7*7 }}"
    mail = compose(plan(submitted(subject=hostile))[0], ALICE, mail_templates()("en"), SETTINGS)
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert hostile.split("\r\n")[0] in text.get_content()
    assert "<script>" not in html.get_content()
    assert "&lt;script&gt;" in html.get_content()
    assert "{{ 7*7 }}" in text.get_content()  # data, never evaluated as a template
    assert "Bcc" not in mail
    assert TICKET in text.get_content()
    assert "http://localhost:8004/my-activities/" in html.get_content()


@pytest.mark.parametrize(
    "account",
    [
        None,
        AccountRecord(account_id="acc-1003", email="c@example.com", email_verified=False),
        AccountRecord(account_id="acc-1004", email=None, email_verified=True),
    ],
    ids=["missing", "unverified", "no-address"],
)
def test_no_verified_address_means_no_mail(account: AccountRecord | None) -> None:
    with pytest.raises(UnsendableError):
        compose(plan(submitted())[0], account, mail_templates()("en"), SETTINGS)
