"""A customer's e-mail to their request's reply address becomes the same event a web comment
is (source: email), through the same use cases: it re-opens a pending or solved request, a
message on a closed one opens a follow-up, attached ID photos count as documents uploaded.

Nobody else's mail does: a machine's (auto-reply, bounce) is dropped; one whose sender is not
the account's directory address (From and envelope), or that fails the receiving MTA's DMARC
or aligned DKIM check when that is required, or that carries an executable or another file
the web would refuse, is refused — counted, logged without addresses, and shown to agents on
the request as a refused attempt. The sender is told nothing either way (the same 250), so
no answer says whether a request exists.

Exactly once: the events' ids derive from the request and the Message-ID, and a request's
record refuses an event id it already holds, so a message delivered twice adds one comment.
It is accepted only once recorded in the request's outbox (durable), whatever Kafka does.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from enum import StrEnum
from uuid import UUID

from intake.domain.attachments import (
    AttachmentLimits,
    AttachmentRejectedError,
    CheckedFile,
    check_file,
)
from intake.domain.inbound import (
    attachments,
    authentication,
    automatic_reason,
    new_text,
    normalise_address,
)
from intake.domain.outbox import RecordChange
from intake.ports import AccountDirectory, TicketRecord, TicketStore
from intake.service.activity import Action, Outcome, TicketActivity
from intake.service.customer import CustomerActions
from intake.service.errors import PublishFailedError, RateLimitedError
from shared.contracts.events import InboundMailRefused, derived_event_id
from shared.contracts.statuses import Status
from shared.logging import get_logger

log = get_logger(__name__)


class Verdict(StrEnum):
    ADDED = "added"
    DROPPED = "dropped"  # a machine's, or for no request we know: nothing recorded
    REFUSED = "refused"  # recorded for the agents, not added
    DEFERRED = "deferred"  # not now: the sending MTA keeps it and tries again later


@dataclass(frozen=True, slots=True)
class Received:
    verdict: Verdict
    reason: str = ""


@dataclass
class InboundMail:
    store: TicketStore
    directory: AccountDirectory
    customers: CustomerActions
    activity: TicketActivity
    limits: AttachmentLimits
    require_authentication: bool = False
    trusted_servers: frozenset[str] = frozenset()
    on_outcome: Callable[[Verdict, str], None] = field(default=lambda verdict, reason: None)

    async def receive(self, ticket_id: str, envelope_sender: str, raw: bytes) -> Received:
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        received = await self._receive(ticket_id, envelope_sender, raw, message)
        self.on_outcome(received.verdict, received.reason)
        log.info(
            "inbound mail",
            ticket_id=ticket_id,
            verdict=received.verdict.value,
            reason=received.reason,
        )
        return received

    async def _receive(
        self, ticket_id: str, envelope_sender: str, raw: bytes, message: EmailMessage
    ) -> Received:
        machine = automatic_reason(message, envelope_sender)
        if machine is not None:
            return Received(Verdict.DROPPED, f"automatic: {machine}")
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            return Received(Verdict.DROPPED, "no such request")
        identity = _identity(message, raw, ticket_id)
        account = await self.directory.get(ticket.account_id)
        expected = normalise_address(account.email) if account and account.email_verified else ""
        senders = {
            normalise_address(str(message.get("From", ""))),
            normalise_address(envelope_sender),
        }
        if not expected or senders != {expected}:
            return await self._refuse(ticket, identity, "wrong_sender", "not the account's address")
        if self.require_authentication:
            domain = expected.rpartition("@")[2]
            if not authentication(message, self.trusted_servers, domain).passes:
                detail = "no DMARC pass or aligned DKIM pass from the trusted server"
                return await self._refuse(ticket, identity, "not_authenticated", detail)
        try:
            files = [
                check_file(i, a.filename, a.data, self.limits)
                for i, a in enumerate(attachments(message))
            ]
        except AttachmentRejectedError as exc:
            reason = "refused_attachment" if exc.kind == "type" else "too_large"
            return await self._refuse(ticket, identity, reason, exc.reason)
        text = new_text(message)
        if not text and not files:
            return await self._refuse(ticket, identity, "no_text", "no new text and no file")
        try:
            await self._add(ticket, identity, text, files)
        except RateLimitedError:
            # Not refused for good: the sender's MTA queues it and tries later, so a customer
            # who writes a lot loses nothing, and a flood costs its sender, not us.
            return Received(Verdict.DEFERRED, "rate_limited")
        except PublishFailedError:
            pass  # recorded in the outbox: the relay publishes it; the mail is accepted
        return Received(Verdict.ADDED)

    async def _add(
        self, ticket: TicketRecord, identity: str, text: str, files: list[CheckedFile]
    ) -> None:
        correlation_id = f"mail-{identity[:24]}"
        if files and ticket.status is not Status.CLOSED:
            await self.customers.upload_documents(
                ticket.ticket_id,
                files,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                source="email",
                event_id=derived_event_id(f"{ticket.ticket_id}|{identity}", "email-documents"),
            )
        if text:
            await self.customers.comment(
                ticket.ticket_id,
                text,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                # on a closed request: the follow-up's key, so a second delivery opens none
                idempotency_key=f"email-{identity}",
                source="email",
                event_id=derived_event_id(f"{ticket.ticket_id}|{identity}", "email-comment")
                if ticket.status is not Status.CLOSED
                else None,
            )

    async def _refuse(
        self, ticket: TicketRecord, identity: str, reason: str, detail: str
    ) -> Received:
        """Shown to the agents on the request's timeline, once per message."""

        def plan(record: TicketRecord, event_id: UUID) -> Outcome:
            refused = InboundMailRefused(
                event_id=event_id,
                ticket_id=record.ticket_id,
                account_id=record.account_id,
                correlation_id=f"mail-{identity[:24]}",
                reason=reason,
                detail=detail,
            )
            return Outcome((refused,), RecordChange())

        with contextlib.suppress(PublishFailedError):  # recorded: the relay delivers it
            await self.activity.act(
                Action(
                    ticket_id=ticket.ticket_id,
                    name="inbound-refused",
                    actor_id="mail",
                    owner=None,
                    plan=plan,
                    event_id=derived_event_id(f"{ticket.ticket_id}|{identity}", "email-refused"),
                )
            )
        log.warning("inbound mail refused", ticket_id=ticket.ticket_id, reason=reason)
        return Received(Verdict.REFUSED, reason)


def _identity(message: EmailMessage, raw: bytes, ticket_id: str) -> str:
    """What makes two deliveries the same message: its Message-ID, else its bytes."""
    message_id = str(message.get("Message-ID", "")).strip()
    basis = message_id or raw.decode(errors="replace")
    return hashlib.sha256(f"{ticket_id}|{basis}".encode()).hexdigest()
