"""What a notification e-mail says and how it threads (pure: templates in, message out).

Headers carry only values we generate (request number, ids, our own addresses); ticket text
goes into bodies, rendered with autoescape in HTML, so no field can inject a header. Every
text is a msgid of the message catalogues, in the language the caller chose (see
NotificationService for which one); documents and guidance are named from the catalog, in
that language. Nothing internal (team, confidence, routing reason, notes) reaches a mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from babel.dates import format_date, format_time

from notifier.domain.plan import ACCOUNT_RECOVERY, MailKind, PlannedNotification
from notifier.domain.templates import N_, LocalisedTemplates
from shared.contracts.catalog import Catalog, Document, load_catalog
from shared.contracts.directory import AccountRecord
from shared.contracts.events import Envelope, NotificationKind, header_safe
from shared.contracts.recovery import recovery_token
from shared.contracts.reply_address import reply_address
from shared.settings import DEVELOPMENT_RECOVERY_SECRET, DEVELOPMENT_REPLY_SECRET

SUBJECTS: dict[MailKind, str] = {
    NotificationKind.ACKNOWLEDGEMENT: N_("We received your request"),
    NotificationKind.DOCUMENTS_NEEDED: N_("We need documents for your request"),
    NotificationKind.AGENT_REPLY: N_("New reply to your request"),
    NotificationKind.INFORMATION_REQUESTED: N_("We need more information"),
    NotificationKind.SOLVED: N_("Your request is solved"),
    NotificationKind.CLOSED: N_("Your request is closed"),
    NotificationKind.REMINDER: N_("We are waiting for your reply"),
    ACCOUNT_RECOVERY: N_("Your account recovery link"),
}
# A request's mails: its number first, in every language, so the thread reads as one.
REQUEST_SUBJECT = N_("[Request #%(ticket_id)s] %(subject)s")


# Headers whose values repeat from mail to mail (our From, the parts' Content-Type and
# Content-Transfer-Encoding, MIME-Version, Auto-Submitted, Content-Language).
_REPEATED_HEADERS = frozenset(
    {
        "from",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
        "auto-submitted",
        "content-language",
    }
)


class _ReusingHeaderRegistry(HeaderRegistry):
    """The standard header registry (the same parsing and classes), minus the work that
    repeats on every mail: it builds each header's class once, not on every header set, and
    parses a repeated header value once (header objects are immutable strings, so one object
    serves every mail). Building a mail took 2.6 ms, most of it in the email package's header
    parser (notifier.mail_bench); this leaves about 1 ms."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found

    def __call__(self, name: str, value: object) -> BaseHeader:
        if not isinstance(value, str) or name.lower() not in _REPEATED_HEADERS:
            return self[name](name, value)
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            if len(self._parsed) >= 512:  # bounded, whatever the configuration says
                self._parsed.clear()
            header = self._parsed[key] = self[name](name, value)
        return header


# The email package's default policy, with that registry.
MAIL_POLICY = policy.default.clone(header_factory=_ReusingHeaderRegistry())


@dataclass(frozen=True, slots=True)
class MailSettings:
    mail_from: str
    mail_domain: str
    reply_domain: str
    public_base_url: str
    """The Help Centre's pages (history serves them): the request page, the recovery page."""
    reply_secret: str = DEVELOPMENT_REPLY_SECRET  # tests; the app passes the configured one
    recovery_secret: str = DEVELOPMENT_RECOVERY_SECRET
    catalog: Catalog = field(default_factory=load_catalog)

    @property
    def pages(self) -> str:
        return self.public_base_url.rstrip("/")


class UnsendableError(ValueError):
    """The account has no verified address: nothing may be sent."""


def thread_root_id(ticket_id: str, domain: str) -> str:
    """The Message-ID of a request's first mail; every later mail refers to it."""
    return f"<request-{ticket_id.lower()}@{domain}>"


def message_id(planned: PlannedNotification, domain: str) -> str:
    if planned.kind is NotificationKind.ACKNOWLEDGEMENT and planned.ticket_id:
        return thread_root_id(planned.ticket_id, domain)
    safe = planned.notification_id.replace(":", ".").lower()
    return f"<{safe}@{domain}>"


def recipient(account: AccountRecord | None) -> str:
    if account is None:
        raise UnsendableError("account not found in the directory")
    if not account.email or not account.email_verified:
        raise UnsendableError("the account has no verified e-mail address")
    return account.email


def request_page(settings: MailSettings, ticket_id: str) -> str:
    return f"{settings.pages}/my-activities/{ticket_id}"


def recovery_link(settings: MailSettings, recovery_id: str) -> str:
    """The one-time link; it is a credential: it goes into the mail and nowhere else."""
    token = recovery_token(recovery_id, settings.recovery_secret)
    return f"{settings.pages}/account-recovery/{token}"


def documents_to_name(
    catalog: Catalog, document_ids: Sequence[str], category: str | None
) -> tuple[Document, ...]:
    """The documents a request needs: the ones the router named (TicketRouted.
    required_documents) that the catalog knows, else the category's; () when neither has any
    (the mail then asks for ID confirmation photos in general)."""
    known = {d.id: d for d in catalog.documents}
    named = tuple(known[i] for i in document_ids if i in known)
    if named:
        return named
    found = catalog.category(category) if category else None
    return catalog.documents_of(found.documents) if found else ()  # the catalog checked them


def _named(documents: Sequence[Document], texts: LocalisedTemplates) -> list[str]:
    return [texts.gettext(d.label) for d in documents]


def _requested(catalog: Catalog, asked: Sequence[str], texts: LocalisedTemplates) -> list[str]:
    """What an agent asked for: a catalog document by its id in the customer's language, any
    other wording as the agent wrote it."""
    known = {d.id: d for d in catalog.documents}
    return [texts.gettext(known[a].label) if a in known else a for a in asked]


def _guidance(catalog: Catalog, category: str | None, texts: LocalisedTemplates) -> list[Any]:
    found = catalog.category(category) if category else None
    if found is None:
        return []
    return [
        {
            "title": texts.gettext(g.title),
            "text": texts.gettext(g.text),
            "steps": [texts.gettext(step) for step in g.steps],
        }
        for g in catalog.guidance_of(found.guidance)  # the catalog checked these ids
    ]


def expiry(moment: datetime, locale: str) -> str:
    """A link's end, as the customer reads dates: "December 2, 2026, 1:30 AM UTC"."""
    utc = moment.astimezone(UTC)
    day = format_date(utc, "long", locale=locale)
    time = format_time(utc, "short", tzinfo=UTC, locale=locale)
    return f"{day}, {time} UTC"


def _request_context(
    planned: PlannedNotification, ticket_id: str, texts: LocalisedTemplates, settings: MailSettings
) -> dict[str, Any]:
    page = request_page(settings, ticket_id)
    context = {
        **planned.context,
        "ticket_id": ticket_id,
        "request_url": page,
        "comment_url": f"{page}#comment",
        "documents_url": f"{page}#documents",
    }
    catalog, category = settings.catalog, planned.context.get("category")
    if planned.kind in (NotificationKind.ACKNOWLEDGEMENT, NotificationKind.DOCUMENTS_NEEDED):
        ids = planned.context.get("document_ids", ())
        context["documents"] = _named(documents_to_name(catalog, ids, category), texts)
    if planned.kind is NotificationKind.ACKNOWLEDGEMENT:
        context["guidance"] = _guidance(catalog, category, texts)
    if planned.kind is NotificationKind.INFORMATION_REQUESTED:
        context["documents"] = _requested(catalog, planned.context.get("documents", ()), texts)
    return context


def _recovery_context(
    planned: PlannedNotification, texts: LocalisedTemplates, settings: MailSettings
) -> dict[str, Any]:
    return {
        "recovery_url": recovery_link(settings, planned.context["recovery_id"]),
        "expires": expiry(planned.context["expires_at"], texts.locale),
    }


def compose(
    planned: PlannedNotification,
    account: AccountRecord | None,
    texts: LocalisedTemplates,
    settings: MailSettings,
) -> EmailMessage:
    """The mail, in the language of `texts` (templates(locale) for the chosen locale)."""
    to = recipient(account)
    assert account is not None
    source = planned.source
    if isinstance(source, Envelope):
        context = _request_context(planned, source.ticket_id, texts, settings)
    else:
        context = _recovery_context(planned, texts, settings)
    context["name"] = account.display_name
    text = texts.render(f"{planned.kind_name}.txt.j2", context)
    html = texts.render(f"{planned.kind_name}.html.j2", context)
    subject = texts.gettext(SUBJECTS[planned.kind])

    mail = EmailMessage(policy=MAIL_POLICY)
    mail["From"] = settings.mail_from
    mail["To"] = formataddr((header_safe(account.display_name), to))
    mail["Message-ID"] = message_id(planned, settings.mail_domain)
    mail["Date"] = format_datetime(source.occurred_at)
    if isinstance(source, Envelope):
        ticket_id = source.ticket_id
        mail["Subject"] = texts.gettext(REQUEST_SUBJECT) % {
            "ticket_id": ticket_id,
            "subject": subject,
        }
        # The answer comes back to the intake's mail receiver, which knows the request by its
        # tag.
        mail["Reply-To"] = reply_address(ticket_id, settings.reply_secret, settings.reply_domain)
        if planned.kind is not NotificationKind.ACKNOWLEDGEMENT:
            root = thread_root_id(ticket_id, settings.mail_domain)
            mail["In-Reply-To"] = root
            mail["References"] = root
        mail["X-Request-Id"] = ticket_id
    else:
        # No request, so no reply address: the mail does not invite an answer.
        mail["Subject"] = subject
    mail["X-Notification-Id"] = planned.notification_id
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    mail["Content-Language"] = texts.locale  # after the content, which clears Content-*
    return mail
