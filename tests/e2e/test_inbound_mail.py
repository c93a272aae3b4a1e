"""Customers answer by e-mail, over real SMTP sessions (aiosmtplib) against the mail receiver,
with the four services as real processes: the reply to an acknowledgement, sent to the
Reply-To the notifier really wrote, lands in the request's timeline (new text only), re-opens
it, and the agents see it; nobody else's mail does, each way of trying it refused or dropped,
and a message delivered twice is one comment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import uuid4

import aiosmtplib
import httpx
import pytest

from devstack.stack import MAIL_RECEIVER, EmbeddedStack, StackConfig, free_port
from devstack.testing import bearer, read_maildir, wait_for_mail
from shared.contracts.identity import Role
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
ALICE, ALICE_MAIL = "acc-1001", "alice@example.com"
BOB, BOB_MAIL = "acc-1002", "bob@example.com"
AGENT = bearer("agent-1", Role.AGENT)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"pixels" * 50 + b"\xff\xd9"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200


@dataclass(frozen=True)
class Request:
    ticket_id: str
    reply_to: str  # as the notifier wrote it into the acknowledgement
    root_id: str  # the acknowledgement's Message-ID, for In-Reply-To


async def submit(stack: EmbeddedStack, account: str, subject: str) -> Request:
    async with httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=15) as intake:
        response = await intake.post(
            "/v1/tickets",
            headers=bearer(account),
            json={
                "category": "withdrawals",
                "subject": subject,
                "description": "My withdrawal is pending for three days now.",
            },
        )
    assert response.status_code == 202, response.text
    ticket_id = response.json()["ticket_id"]
    [ack] = await wait_for_mail(
        stack.config.maildir,
        lambda m: m["X-Request-Id"] == ticket_id and "We received" in str(m["Subject"]),
        timeout=DEADLINE,
    )
    return Request(ticket_id, str(ack["Reply-To"]), str(ack["Message-ID"]))


def reply(
    request: Request,
    text: str,
    *,
    sender: str = ALICE_MAIL,
    html: str | None = None,
    files: tuple[tuple[str, bytes, str], ...] = (),
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Alice <{sender}>"
    message["To"] = request.reply_to
    message["Subject"] = f"Re: [Request #{request.ticket_id}] We received your request"
    message["Message-ID"] = make_msgid(domain="example.com")
    message["In-Reply-To"] = request.root_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, data, kind in files:
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


async def send(
    stack: EmbeddedStack, message: EmailMessage, *, envelope_from: str | None = None, port: int = 0
) -> None:
    await aiosmtplib.send(
        message,
        hostname=stack.config.host,
        port=port or stack.config.ports.mail,
        sender=envelope_from if envelope_from is not None else ALICE_MAIL,
        recipients=[str(message["To"])],
        timeout=20,
    )


async def agent_view(stack: EmbeddedStack, ticket_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.config.url("history"), timeout=15) as history:
        response = await history.get(f"/v1/tickets/{ticket_id}", headers=AGENT)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def entry(stack: EmbeddedStack, ticket_id: str, kind: str, **details: Any) -> dict[str, Any]:
    """The first timeline entry of `kind` whose details hold `details`, waiting for it."""

    async def probe() -> dict[str, Any] | None:
        for item in (await agent_view(stack, ticket_id))["timeline"]:
            if item["kind"] == kind and all(
                item["details"].get(k) == v for k, v in details.items()
            ):
                return dict(item)
        return None

    return await wait_until(probe, timeout=DEADLINE, what=f"a {kind} entry")


async def entries(stack: EmbeddedStack, ticket_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in (await agent_view(stack, ticket_id))["timeline"] if e["kind"] == kind]


@pytest.fixture(scope="module")
async def alice_request(services: EmbeddedStack) -> Request:
    return await submit(services, ALICE, f"Stuck withdrawal {uuid4().hex[:6]}")


async def test_a_reply_to_the_acknowledgement_reaches_the_request_and_reopens_it(
    services: EmbeddedStack, alice_request: Request
) -> None:
    async with httpx.AsyncClient(base_url=services.config.url("intake"), timeout=15) as intake:
        asked = await intake.post(
            f"/v1/tickets/{alice_request.ticket_id}/information-requests",
            headers=AGENT,
            json={"body": "Which address did you withdraw to?"},
        )
    assert asked.status_code == 202, asked.text
    mails_before = len(read_maildir(services.config.maildir))
    quoted = "> Which address did you withdraw to?\n> -- \n> Help Centre"
    text = f"To my Ledger, bc1q-xyz.\n\nOn Mon, 1 Dec 2026, Help Centre wrote:\n{quoted}\n"
    await send(services, reply(alice_request, text))
    comment = await entry(services, alice_request.ticket_id, "comment", source="email")
    assert comment["details"]["body"] == "To my Ledger, bc1q-xyz."  # the new text only
    assert "by e-mail" in comment["summary"]

    async def reopened() -> bool:
        return bool((await agent_view(services, alice_request.ticket_id))["status"] == "open")

    await wait_until(reopened, timeout=DEADLINE, what="the request re-opened")
    # The customer is not mailed a copy of their own comment.
    newer = read_maildir(services.config.maildir)[mails_before:]
    assert not [m for m in newer if "bc1q-xyz" in str(m.get_body(("plain",)))]


async def test_the_same_message_delivered_twice_is_one_comment(
    services: EmbeddedStack, alice_request: Request
) -> None:
    message = reply(alice_request, "Sent twice by my provider")
    await send(services, message)
    await send(services, message)  # same Message-ID
    await entry(services, alice_request.ticket_id, "comment", body="Sent twice by my provider")
    comments = await entries(services, alice_request.ticket_id, "comment")
    assert [c["details"]["body"] for c in comments].count("Sent twice by my provider") == 1


async def test_a_reply_with_the_id_photos_counts_as_documents(
    services: EmbeddedStack, alice_request: Request
) -> None:
    message = reply(alice_request, "Here are the photos", files=(("id.jpg", JPEG, "image/jpeg"),))
    await send(services, message)
    await entry(services, alice_request.ticket_id, "documents_uploaded")
    view = await agent_view(services, alice_request.ticket_id)
    assert "id.jpg" in [a["filename"] for a in view["attachments"]]


async def test_html_is_kept_as_inert_text(services: EmbeddedStack, alice_request: Request) -> None:
    html = "<p>Photo <b>attached</b></p><script>alert('x')</script>"
    message = EmailMessage()
    message["From"], message["To"] = ALICE_MAIL, alice_request.reply_to
    message["Subject"], message["Message-ID"] = "Re: request", make_msgid()
    message.set_content(html, subtype="html")
    await send(services, message)

    async def added() -> list[str] | None:
        bodies = [
            e["details"]["body"]
            for e in await entries(services, alice_request.ticket_id, "comment")
            if "Photo" in e["details"]["body"]
        ]
        return bodies or None

    [body] = await wait_until(added, timeout=DEADLINE, what="the HTML reply's comment")
    assert "Photo attached" in body
    assert "<" not in body
    assert "script" not in body
    assert "alert" not in body


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("another sender", "wrong_sender"),
        ("another request's address", "wrong_sender"),
        ("an executable attachment", "refused_attachment"),
    ],
)
async def test_refused_mail_is_not_added_and_agents_see_the_attempt(
    services: EmbeddedStack, alice_request: Request, case: str, reason: str
) -> None:
    marker = f"refused-{uuid4().hex[:8]}"
    target = alice_request
    envelope = ALICE_MAIL
    if case == "another sender":
        message = reply(target, marker, sender=BOB_MAIL)
        envelope = BOB_MAIL
    elif case == "another request's address":
        # Alice writes to Bob's request: a valid tag, but not her request.
        target = await submit(services, BOB, f"Bob's request {marker}")
        message = reply(target, marker)
    else:
        message = reply(target, marker, files=(("run.sh", ELF, "application/octet-stream"),))
    await send(services, message, envelope_from=envelope)
    refused = await entry(services, target.ticket_id, "inbound_refused", reason=reason)
    assert "@" not in str(refused)  # no address in what agents are shown either
    bodies = [e["details"]["body"] for e in await entries(services, target.ticket_id, "comment")]
    assert marker not in str(bodies)


@pytest.mark.parametrize(
    ("case", "headers", "envelope"),
    [
        ("auto-reply", {"Auto-Submitted": "auto-replied"}, ALICE_MAIL),
        ("vacation", {"X-Autoreply": "yes"}, ALICE_MAIL),
        ("bulk", {"Precedence": "bulk"}, ALICE_MAIL),
        ("bounce", {}, ""),
    ],
)
async def test_machines_are_dropped_without_a_trace_on_the_request(
    services: EmbeddedStack,
    alice_request: Request,
    case: str,
    headers: dict[str, str],
    envelope: str,
) -> None:
    marker = f"{case}-{uuid4().hex[:8]}"
    await send(services, reply(alice_request, marker, headers=headers), envelope_from=envelope)
    # A later message from Alice arrives: everything before it was handled, in order.
    fence = f"fence-{marker}"
    await send(services, reply(alice_request, fence))
    await entry(services, alice_request.ticket_id, "comment", body=fence)
    timeline = str((await agent_view(services, alice_request.ticket_id))["timeline"])
    assert marker not in timeline.replace(fence, "")


async def test_a_forged_tag_is_refused_at_rcpt(
    services: EmbeddedStack, alice_request: Request
) -> None:
    forged = alice_request.reply_to.replace(".", ".0", 1)  # the tag, one digit off
    for address in (forged, f"request+{alice_request.ticket_id.lower()}@reply.helpcentre.example"):
        message = reply(alice_request, "let me in")
        message.replace_header("To", address)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(services, message)
        assert refused.value.recipients[0].code == 550


async def test_an_oversized_mail_is_refused(
    services: EmbeddedStack, alice_request: Request
) -> None:
    big = reply(alice_request, "big", files=(("scan.jpg", JPEG * 150_000, "image/jpeg"),))
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(services, big)
    assert refused.value.code == 552


@pytest.fixture(scope="module")
async def strict_receiver(services: EmbeddedStack) -> AsyncIterator[int]:
    """A second mail receiver that requires DMARC (or aligned DKIM) from a trusted MTA."""
    ports = replace(services.config.ports, mail=free_port(), intake_mail=free_port())
    config: StackConfig = replace(
        services.config,
        ports=ports,
        extra_env=dict(services.config.extra_env)
        | {
            "INTAKE_MAIL_REQUIRE_AUTHENTICATION": "true",
            "INTAKE_MAIL_TRUSTED_SERVERS": '["mx.helpcentre.example"]',
        },
    )
    stack = EmbeddedStack(config)
    await stack.start_service(MAIL_RECEIVER)
    yield ports.mail
    await stack.stop_process(MAIL_RECEIVER)


async def test_with_authentication_required_only_a_dmarc_pass_from_the_trusted_mta_counts(
    services: EmbeddedStack, alice_request: Request, strict_receiver: int
) -> None:
    failing = f"dmarc-fail-{uuid4().hex[:8]}"
    passing = f"dmarc-pass-{uuid4().hex[:8]}"
    forged = f"forged-pass-{uuid4().hex[:8]}"
    results = {
        failing: "mx.helpcentre.example; dmarc=fail header.from=example.com",
        passing: "mx.helpcentre.example; dkim=pass header.d=example.com; dmarc=pass",
        forged: "evil.example; dmarc=pass header.from=example.com",  # not the trusted server
    }
    for marker, result in results.items():
        message = reply(alice_request, marker, headers={"Authentication-Results": result})
        await send(services, message, port=strict_receiver)
    await entry(services, alice_request.ticket_id, "comment", body=passing)

    async def both_refused() -> bool:
        found = await entries(services, alice_request.ticket_id, "inbound_refused")
        return sum(bool(e["details"]["reason"] == "not_authenticated") for e in found) >= 2

    await wait_until(both_refused, timeout=DEADLINE, what="two refusals")
    bodies = str(await entries(services, alice_request.ticket_id, "comment"))
    assert failing not in bodies
    assert forged not in bodies
