"""Every mail in the request's language, naming what is true: the documents from the catalog,
links to pages that exist, the category's guidance, nothing internal."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import cache
from pathlib import Path

import pytest

from notifier.domain.plan import plan
from shared.contracts.catalog import load_catalog
from shared.contracts.events import (
    AccountRecoveryRequested,
    AgentReplied,
    CustomerReminded,
    Envelope,
    InformationRequested,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    new_ticket_id,
)
from shared.contracts.reply_address import reply_address
from shared.contracts.statuses import Status
from shared.i18n import gettext
from shared.locales.extract import extract_package
from shared.settings import DEVELOPMENT_REPLY_SECRET

from .notifier_fakes import BASE_URL, Harness, harness

pytestmark = pytest.mark.unit

NOTIFIER_PACKAGE = Path(__file__).resolve().parents[1] / "src" / "notifier"
CATALOG = load_catalog()
LABELS = {d.id: d.label for d in CATALOG.documents}


def envelope(ticket_id: str) -> dict[str, str]:
    return {"ticket_id": ticket_id, "account_id": "acc-1001", "correlation_id": "c"}


def submitted(ticket_id: str, locale: str = "de", **fields: object) -> TicketSubmitted:
    return TicketSubmitted.model_validate(
        envelope(ticket_id)
        | {"category": "withdrawals", "subject": "Konto 7", "description": "…", "locale": locale}
        | fields
    )


def routed(ticket_id: str, documents: tuple[str, ...] = (), **fields: object) -> TicketRouted:
    return TicketRouted.model_validate(
        envelope(ticket_id)
        | {
            "team": "security",
            "confidence": 0.42,
            "customer_category": "disable-2fa",
            "reason": "rule:id-documents-2fa",
            "explanation": "internal routing words",
            "model_version": "m-7",
            "required_documents_missing": True,
            "required_documents": documents,
        }
        | fields
    )


def status(ticket_id: str, before: Status, after: Status) -> StatusChanged:
    change = StatusTransition(from_status=before, to_status=after)
    return StatusChanged(
        **envelope(ticket_id), actor_id="agent-1", actor_role="agent", status_change=change
    )


REMIND_RULE, SOLVE_RULE = "remind-pending-3d", "solve-pending-7d"


def reminded(ticket_id: str) -> CustomerReminded:
    return CustomerReminded(
        **envelope(ticket_id),
        rule_id=REMIND_RULE,
        waiting_since=datetime(2026, 11, 28, 9, 15, tzinfo=UTC),
    )


def solved_by_automation(ticket_id: str) -> StatusChanged:
    change = StatusTransition(from_status=Status.PENDING, to_status=Status.SOLVED)
    return StatusChanged(
        **envelope(ticket_id),
        actor_id="automation",
        actor_role="system",
        status_change=change,
        rule_id=SOLVE_RULE,
    )


def recovery(locale: str) -> AccountRecoveryRequested:
    return AccountRecoveryRequested(
        account_id="acc-1001",
        correlation_id="c",
        recovery_id="r" * 22,
        expires_at=datetime(2026, 12, 2, 1, 30, tzinfo=UTC),
        locale=locale,
    )


def every_kind(ticket_id: str, locale: str) -> list[Envelope | AccountRecoveryRequested]:
    """A request's whole life, with one mail of every kind, and a recovery request."""
    solved = StatusTransition(from_status=Status.OPEN, to_status=Status.SOLVED)
    return [
        submitted(ticket_id, locale, category="disable-2fa", required_documents_missing=True),
        AgentReplied(**envelope(ticket_id), agent_id="a", body="…", status_change=solved),
        InformationRequested(
            **envelope(ticket_id), agent_id="a", body="…", documents_requested=("id-front", "X-7")
        ),
        reminded(ticket_id),
        solved_by_automation(ticket_id),  # the agent's solve below is the last "solved"
        status(ticket_id, Status.OPEN, Status.SOLVED),
        status(ticket_id, Status.SOLVED, Status.CLOSED),
        recovery(locale),
    ]


def kind_of(mail: EmailMessage) -> str:
    return str(mail["X-Notification-Id"]).rpartition(":")[2]


def parts(mail: EmailMessage) -> tuple[str, str, str]:
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(mail["Subject"]), text.get_content(), html.get_content()


async def mails_of(h: Harness, *events: Envelope | AccountRecoveryRequested) -> dict[str, str]:
    """The plain text of each kind's mail (the last one of a kind)."""
    for event in events:
        await h.service.handle(event)
    return {kind_of(m): parts(m)[1] for m in h.mailer.sent}


@cache
def english_fragments() -> tuple[str, ...]:
    """The English of every msgid the mails use (theirs and the catalog's), cut at the
    placeholders: a translated mail holds none of them. Short ones ("Hello,") would match
    inside other text; the spot checks cover those."""
    template = extract_package(NOTIFIER_PACKAGE)
    msgids = [m.id for m in template if m.id and isinstance(m.id, str)]
    msgids += [d.label for d in CATALOG.documents]
    msgids += [t for g in CATALOG.guidance for t in (g.title, g.text, *g.steps)]
    pieces = (p.strip() for m in msgids for p in re.split(r"%\(\w+\)s", m))
    return tuple(sorted({p for p in pieces if len(p) >= 12}))


SPOT_CHECKS = {
    "de": ("[Anfrage #", "Hallo Alice,", "Anfragenummer:", "Hilfe-Center", "Kommentar schreiben"),
    "es": ("[Solicitud #", "Hola, Alice:", "Número de solicitud:", "Centro de ayuda", "comentario"),
}


@pytest.mark.parametrize("locale", ["de", "es"])
async def test_every_mail_in_german_and_spanish_leaves_no_english(locale: str) -> None:
    h = harness()
    ticket_id = new_ticket_id()
    for event in every_kind(ticket_id, locale):
        await h.service.handle(event)
    kinds = {kind_of(m) for m in h.mailer.sent}
    assert kinds == {
        "acknowledgement",
        "documents_needed",
        "agent_reply",
        "information_requested",
        "reminder",
        "solved",
        "closed",
        "account_recovery",
    }
    for mail in h.mailer.sent:
        assert mail["Content-Language"] == locale
        subject, text, html = parts(mail)
        assert f'<html lang="{locale}">' in html
        for rendered in (subject, text, html):
            left = [f for f in english_fragments() if f in rendered]
            assert left == [], (kind_of(mail), left)
        if kind_of(mail) != "account_recovery":
            assert all(check in subject + text for check in SPOT_CHECKS[locale][:1])
        assert all(check in text for check in SPOT_CHECKS[locale][1:2])
        assert SPOT_CHECKS[locale][3] in text  # the signature


async def test_english_is_the_msgids_themselves() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    mails = await mails_of(h, *every_kind(ticket_id, "en"))
    assert "We received your request" in str(h.mailer.sent[0]["Subject"])
    assert mails["solved"].startswith("Hello Alice,\n\nWe marked your request as solved.")


async def test_every_mail_of_a_request_is_in_the_language_it_was_submitted_in() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    reply = AgentReplied(**envelope(ticket_id), agent_id="agent-1", body="Erledigt.")
    await h.service.handle(submitted(ticket_id, "de-AT"))  # normalised: de
    await h.service.handle(reply)  # carries no locale: the request's
    await h.service.handle(status(ticket_id, Status.OPEN, Status.SOLVED))
    subjects = [str(m["Subject"]) for m in h.mailer.sent]
    assert subjects == [
        f"[Anfrage #{ticket_id}] Wir haben Ihre Anfrage erhalten",
        f"[Anfrage #{ticket_id}] Neue Antwort auf Ihre Anfrage",
        f"[Anfrage #{ticket_id}] Ihre Anfrage ist gelöst",
    ]
    assert h.locales.locales == {ticket_id: "de"}


@pytest.mark.parametrize(
    ("asked", "used"), [("es-MX", "es"), ("es_ES", "es"), ("fr", "en"), ("", "en"), ("x!", "en")]
)
async def test_the_locale_is_normalised_and_anything_unsupported_is_english(
    asked: str, used: str
) -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(submitted(ticket_id, asked))
    await h.service.handle(status(ticket_id, Status.OPEN, Status.SOLVED))
    assert [m["Content-Language"] for m in h.mailer.sent] == [used, used]
    assert h.locales.locales == {ticket_id: used}


async def test_a_request_never_seen_submitted_is_answered_in_english() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(status(ticket_id, Status.OPEN, Status.SOLVED))
    (mail,) = h.mailer.sent
    assert mail["Content-Language"] == "en"
    assert str(mail["Subject"]).endswith("Your request is solved")


async def test_a_redelivered_submission_sends_nothing_and_keeps_the_language() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    event = submitted(ticket_id, "es")
    await h.service.handle(event)
    await h.service.handle(event)
    batch = await h.service.for_batch([event])
    await batch.handle(event)
    assert len(h.mailer.sent) == 1
    assert h.locales.locales == {ticket_id: "es"}


async def test_a_batch_takes_its_own_submissions_language_and_reads_the_others_once() -> None:
    h = harness()
    earlier, fresh, unknown = new_ticket_id(), new_ticket_id(), new_ticket_id()
    await h.service.handle(submitted(earlier, "es"))
    h.mailer.sent.clear()
    reads, writes = h.locales.reads, h.locales.writes
    events: list[Envelope] = [
        submitted(fresh, "de", category="disable-2fa", required_documents_missing=True),
        routed(fresh, ("selfie-with-id",)),  # the same request's documents mail: sent once
        status(earlier, Status.OPEN, Status.SOLVED),
        status(unknown, Status.OPEN, Status.SOLVED),
    ]
    batch = await h.service.for_batch(events)
    for event in events:
        await batch.handle(event)
    languages = {(m["X-Request-Id"], kind_of(m)): m["Content-Language"] for m in h.mailer.sent}
    assert languages == {
        (fresh, "acknowledgement"): "de",
        (fresh, "documents_needed"): "de",
        (earlier, "solved"): "es",
        (unknown, "solved"): "en",
    }
    # one write for the batch's submission, one read for the two other requests
    assert (h.locales.writes - writes, h.locales.reads - reads) == (1, 1)


async def test_the_documents_mail_names_what_the_router_asked_for() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(submitted(ticket_id, "de"))  # the intake did not notice
    await h.service.handle(routed(ticket_id, ("selfie-with-id",)))
    mails = {kind_of(m): parts(m) for m in h.mailer.sent}
    subject, text, html = mails["documents_needed"]
    assert subject.endswith("Wir benötigen Dokumente für Ihre Anfrage")
    assert f"- {gettext('de', LABELS['selfie-with-id'])}\n" in text
    assert gettext("de", LABELS["id-front"]) not in text
    assert "„CEX.IO Help Centre“" in text  # the words to write by hand stay as they are
    assert "Fotos zur Bestätigung" not in text  # the generic wording only when nothing is named
    assert html.count("<li>") == 1


@pytest.mark.parametrize(
    ("event_of", "expected"),
    [
        # the intake noticed: the category's documents
        (
            lambda t: submitted(t, "es", category="change-email", required_documents_missing=True),
            ("id-front", "selfie-with-id"),
        ),
        # the router named one the catalog does not know: the category's
        (lambda t: routed(t, ("passport-scan",)), ("id-front", "selfie-with-id")),
        (lambda t: routed(t, ("id-front", "passport-scan")), ("id-front",)),
    ],
    ids=["category", "unknown-id", "known-and-unknown"],
)
async def test_documents_come_from_the_catalog_in_the_customers_language(
    event_of: object, expected: tuple[str, ...]
) -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(submitted(ticket_id, "es", category="disable-2fa"))
    assert callable(event_of)
    await h.service.handle(event_of(ticket_id))
    mails = {kind_of(m): parts(m)[1] for m in h.mailer.sent}
    named = [line[2:] for line in mails["documents_needed"].splitlines() if line.startswith("- ")]
    assert named == [gettext("es", LABELS[d]) for d in expected]
    if "acknowledgement" in mails and "Para tramitar" in mails["acknowledgement"]:
        assert all(f"- {n}" in mails["acknowledgement"] for n in named)


async def test_the_acknowledgement_names_the_missing_documents_too() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    mails = await mails_of(
        h, submitted(ticket_id, "de", category="disable-2fa", required_documents_missing=True)
    )
    ack = mails["acknowledgement"]
    for document in ("id-front", "selfie-with-id"):
        assert f"- {gettext('de', LABELS[document])}" in ack
    assert f"{BASE_URL}/my-activities/{ticket_id}#documents" in ack


async def test_an_agents_request_names_catalog_documents_and_keeps_their_own_words() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(submitted(ticket_id, "de"))
    asked = InformationRequested(
        **envelope(ticket_id),
        agent_id="agent-1",
        body="Welches Gerät?",
        documents_requested=("id-front", "Kontoauszug vom Mai"),
    )
    mails = await mails_of(h, asked)
    text = mails["information_requested"]
    assert f"- {gettext('de', LABELS['id-front'])}\n- Kontoauszug vom Mai\n" in text
    assert f"Dokumente hinzufügen: {BASE_URL}/my-activities/{ticket_id}#documents" in text


async def test_every_promise_points_at_something_that_works() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    for event in every_kind(ticket_id, "en"):
        await h.service.handle(event)
    page = f"{BASE_URL}/my-activities/{ticket_id}"
    address = reply_address(ticket_id, DEVELOPMENT_REPLY_SECRET, "r.h.example")
    for mail in h.mailer.sent:
        kind = kind_of(mail)
        if kind == "account_recovery":
            continue
        _, text, html = parts(mail)
        assert mail["Reply-To"] == address  # "reply to this e-mail" reaches the request
        assert f"Open your request under My activities: {page}\n" in text
        assert f'<a href="{page}">' in html
        assert f"Write a comment: {page}#comment\n" in text
        assert f'<a href="{page}#comment">' in html
        if kind in ("acknowledgement", "documents_needed", "information_requested"):
            assert f"Add documents: {page}#documents\n" in text
            assert f'<a href="{page}#documents">Add documents</a>' in html
        if kind == "closed":  # adding to it opens a follow-up: said so, and nothing else
            assert "we will open a new request that follows up this one" in text
            assert "To add to your request" not in text
        if kind in ("solved", "agent_reply"):
            assert "the request opens again" in text
        if kind == "reminder":  # the answer is asked for in the body, once
            assert "solved automatically" in text
            assert "To add to your request" not in text
            assert text.count(f"{page}#comment") == 1


async def test_the_acknowledgement_carries_the_categorys_guidance() -> None:
    h = harness()
    several, plain = new_ticket_id(), new_ticket_id()
    await h.service.handle(submitted(several, "es", category="several-accounts"))
    await h.service.handle(submitted(plain, "es", category="withdrawals"))
    with_guidance, without = (parts(m) for m in h.mailer.sent)
    (guidance,) = CATALOG.guidance_of(("one-account",))
    text, html = with_guidance[1], with_guidance[2]
    assert gettext("es", guidance.title) in text
    assert f'<h3 style="font-size:100%">{gettext("es", guidance.title)}</h3>' in html
    for number, step in enumerate(guidance.steps, start=1):
        assert f"{number}. {gettext('es', step)}\n" in text
    assert html.count("<li>") == len(guidance.steps)
    assert gettext("es", guidance.title) not in without[1]


async def test_nothing_internal_reaches_the_customer() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(submitted(ticket_id, "en"))
    await h.service.handle(routed(ticket_id, ("id-front",)))
    for mail in h.mailer.sent:
        whole = "".join(parts(mail)) + "".join(f"{k}: {v}" for k, v in mail.items())
        for internal in (
            "security",
            "rule:",
            "id-documents-2fa",
            "0.42",
            "internal routing",
            "m-7",
        ):
            assert internal not in whole, internal


async def test_ticket_text_is_escaped_in_every_language() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(submitted(ticket_id, "es", subject="<script>x</script> %(name)s"))
    _, text, html = parts(h.mailer.sent[0])
    assert "«<script>x</script> %(name)s»" in text
    assert "&lt;script&gt;" in html
    assert "<script>" not in html


def test_the_recovery_request_is_planned_in_its_own_locale_and_keyed_by_its_event() -> None:
    event = recovery("es-AR")
    (planned,) = plan(event)
    assert planned.locale == "es"
    assert planned.notification_id == f"{event.event_id}:account_recovery"
    assert planned.ticket_id is None


REMINDERS = {
    "en": (
        "[Request #{t}] We are waiting for your reply",
        "We are still waiting for your reply on request #{t}.",
        "Please reply to this e-mail or write a comment on the request page.",
        "If we do not hear from you, the request will be solved automatically.",
        "Open your request under My activities: {page}\n",
        "Write a comment: {page}#comment\n",
    ),
    "de": (
        "[Anfrage #{t}] Wir warten auf Ihre Antwort",
        "Wir warten noch auf Ihre Antwort zu Anfrage #{t}.",
        "Bitte antworten Sie auf diese E-Mail oder schreiben Sie einen Kommentar",
        "wird die Anfrage automatisch als gelöst markiert.",
        "Ihre Anfrage unter „Meine Aktivitäten“ öffnen: {page}\n",
        "Kommentar schreiben: {page}#comment\n",
    ),
    "es": (
        "[Solicitud #{t}] Estamos esperando su respuesta",
        "Seguimos esperando su respuesta a la solicitud #{t}.",
        "Por favor, responda a este correo o escriba un comentario",
        "la solicitud se marcará como resuelta automáticamente.",
        "Abrir su solicitud en «Mis actividades»: {page}\n",
        "Escribir un comentario: {page}#comment\n",
    ),
}


@pytest.mark.parametrize("locale", sorted(REMINDERS))
async def test_the_reminder_asks_for_the_answer_in_the_requests_language(locale: str) -> None:
    h = harness()
    ticket_id = new_ticket_id()
    await h.service.handle(submitted(ticket_id, locale))
    await h.service.handle(routed(ticket_id))  # the team and the rule it went by: internal
    h.mailer.sent.clear()
    await h.service.handle(reminded(ticket_id))
    (mail,) = h.mailer.sent
    subject, text, html = parts(mail)
    page = f"{BASE_URL}/my-activities/{ticket_id}"
    expected = [line.format(t=ticket_id, page=page) for line in REMINDERS[locale]]
    assert subject == expected[0]
    assert all(line in text for line in expected[1:]), text
    assert mail["Content-Language"] == locale
    assert mail["In-Reply-To"] == f"<request-{ticket_id.lower()}@h.example>"
    assert f'<html lang="{locale}">' in html
    assert f'<a href="{page}">' in html
    assert f'<a href="{page}#comment">' in html
    assert f"#{ticket_id}." in html
    whole = subject + text + html
    internal = (REMIND_RULE, "rule:", "id-documents-2fa", "0.42", "m-7", "internal routing")
    leaked = [i for i in internal if i in whole]
    leaked += [t for t in CATALOG.teams if re.search(rf"\b{re.escape(t)}\b", whole)]
    leaked += [w for w in ("2026-11-28", "09:15", "agent-1") if w in whole]
    assert leaked == [], leaked


async def test_a_reminder_is_mailed_once_however_often_it_comes() -> None:
    h = harness()
    ticket_id = new_ticket_id()
    event = reminded(ticket_id)
    await h.service.handle(event)
    await h.service.handle(event)
    (mail,) = h.mailer.sent
    assert mail["X-Notification-Id"] == f"{event.event_id}:reminder"
    assert mail["Content-Language"] == "en"  # a request never seen submitted


SOLVED_BY_AUTOMATION = {
    "en": (
        "We marked your request as solved because we did not hear back from you.",
        "If you still need help, reply to this e-mail or write a comment on the request page:"
        " the request opens again.",
    ),
    "de": (
        "Wir haben Ihre Anfrage als gelöst markiert, da wir keine Antwort von Ihnen erhalten",
        "Dann wird die Anfrage wieder geöffnet.",
    ),
    "es": (
        "Hemos marcado su solicitud como resuelta porque no hemos recibido respuesta suya.",
        "la solicitud se volverá a abrir.",
    ),
}


@pytest.mark.parametrize("locale", sorted(SOLVED_BY_AUTOMATION))
async def test_a_request_solved_by_automation_says_why_and_how_to_reopen_it(locale: str) -> None:
    h = harness()
    automatic, by_agent = new_ticket_id(), new_ticket_id()
    for ticket_id in (automatic, by_agent):
        await h.service.handle(submitted(ticket_id, locale))
    h.mailer.sent.clear()
    await h.service.handle(solved_by_automation(automatic))
    await h.service.handle(status(by_agent, Status.PENDING, Status.SOLVED))
    (subject, text, html), (agent_subject, agent_text, agent_html) = (
        parts(m) for m in h.mailer.sent
    )
    because, reopens = SOLVED_BY_AUTOMATION[locale]
    assert because in text
    assert because in html
    assert reopens in text
    assert SOLVE_RULE not in subject + text + html
    # the same subject as any solved mail; the agent's mail keeps its own wording
    assert subject.replace(automatic, by_agent) == agent_subject
    assert because not in agent_text
    assert because not in agent_html
    solved = gettext(locale, "We marked your request as solved.", package="notifier")
    assert f"{solved}\n" in agent_text
    assert f"{solved}\n" not in text
