"""What a notification e-mail says and how it threads (pure: templates in, message out).

Headers carry only values we generate (request number, ids, our own addresses); ticket text
goes into bodies, rendered with autoescape in HTML, so no field can inject a header.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from jinja2 import Environment

from notifier.domain.plan import PlannedNotification
from shared.contracts.directory import AccountRecord
from shared.contracts.events import NotificationKind, header_safe
from shared.contracts.reply_address import reply_address

SUPPORTED_LOCALES = frozenset({"en"})

SUBJECTS: dict[NotificationKind, str] = {
    NotificationKind.ACKNOWLEDGEMENT: "We received your request",
    NotificationKind.DOCUMENTS_NEEDED: "We need your ID confirmation photos",
    NotificationKind.AGENT_REPLY: "New reply to your request",
    NotificationKind.INFORMATION_REQUESTED: "We need more information",
    NotificationKind.SOLVED: "Your request is solved",
    NotificationKind.CLOSED: "Your request is closed",
}


@dataclass(frozen=True, slots=True)
class MailSettings:
    mail_from: str
    mail_domain: str
    reply_domain: str
    public_base_url: str
    reply_secret: str = "development-only-reply-address-key"  # noqa: S105 - tests; app sets it


class UnsendableError(ValueError):
    """The account has no verified address: nothing may be sent."""


def thread_root_id(ticket_id: str, domain: str) -> str:
    """The Message-ID of a request's first mail; every later mail refers to it."""
    return f"<request-{ticket_id.lower()}@{domain}>"


def message_id(planned: PlannedNotification, domain: str) -> str:
    if planned.kind is NotificationKind.ACKNOWLEDGEMENT:
        return thread_root_id(planned.source.ticket_id, domain)
    safe = planned.notification_id.replace(":", ".").lower()
    return f"<{safe}@{domain}>"


def recipient(account: AccountRecord | None) -> str:
    if account is None:
        raise UnsendableError("account not found in the directory")
    if not account.email or not account.email_verified:
        raise UnsendableError("the account has no verified e-mail address")
    return account.email


def compose(
    planned: PlannedNotification,
    account: AccountRecord | None,
    templates: Environment,
    settings: MailSettings,
) -> EmailMessage:
    to = recipient(account)
    assert account is not None
    ticket_id = planned.source.ticket_id
    context = {
        **planned.context,
        "ticket_id": ticket_id,
        "name": account.display_name,
        "activities_url": f"{settings.public_base_url}/my-activities/{ticket_id}",
    }
    locale = account.locale if account.locale in SUPPORTED_LOCALES else "en"
    text = templates.get_template(f"{locale}/{planned.kind.value}.txt.j2").render(context)
    html = templates.get_template(f"{locale}/{planned.kind.value}.html.j2").render(context)

    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = formataddr((header_safe(account.display_name), to))
    mail["Subject"] = f"[Request #{ticket_id}] {SUBJECTS[planned.kind]}"
    mail["Message-ID"] = message_id(planned, settings.mail_domain)
    mail["Date"] = format_datetime(planned.source.occurred_at)
    # The answer comes back to the intake's mail receiver, which knows the request by its tag.
    mail["Reply-To"] = reply_address(ticket_id, settings.reply_secret, settings.reply_domain)
    if planned.kind is not NotificationKind.ACKNOWLEDGEMENT:
        root = thread_root_id(ticket_id, settings.mail_domain)
        mail["In-Reply-To"] = root
        mail["References"] = root
    mail["X-Request-Id"] = ticket_id
    mail["X-Notification-Id"] = planned.notification_id
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail
