"""The mail receiver's SMTP side (aiosmtpd, served on the service's own event loop): one
request's reply address per message, checked at RCPT time; the message handed to the use case
at DATA time and accepted once it is recorded. The answer never says whether a request
exists: a forged or unknown tag is refused at RCPT (550, like any unknown address), anything
else is answered 250, added or not; a failure of the infrastructure, or an account over its
rate, is 451 (the sending MTA keeps the message and tries again later).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from intake.service.inbound import InboundMail, Verdict
from shared.contracts.reply_address import ticket_of
from shared.kafka.errors import TRANSIENT_ERRORS
from shared.logging import get_logger

log = get_logger(__name__)


class ReplyHandler:
    def __init__(self, receiver: InboundMail, secret: str, domain: str) -> None:
        self._receiver = receiver
        self._secret = secret
        self._domain = domain

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if ticket_of(address, self._secret, self._domain) is None:
            return "550 5.1.1 No such recipient here"
        if envelope.rcpt_tos:
            return "452 4.5.3 One request per message; send the rest separately"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        ticket_id = ticket_of(envelope.rcpt_tos[0], self._secret, self._domain)
        assert ticket_id is not None  # checked at RCPT
        raw = envelope.original_content or envelope.content or b""
        content = raw if isinstance(raw, bytes) else raw.encode()
        try:
            received = await self._receiver.receive(ticket_id, envelope.mail_from or "", content)
        except TRANSIENT_ERRORS as exc:
            log.warning("inbound mail deferred", error=repr(exc))
            return "451 4.3.0 Temporary failure; try again later"
        if received.verdict is Verdict.DEFERRED:
            return "451 4.7.1 Too many messages for now; try again later"
        return "250 2.0.0 Accepted"


async def serve_smtp(
    handler: ReplyHandler, host: str, port: int, *, max_bytes: int
) -> asyncio.Server:
    """Listen on this event loop (not in a thread of its own: the use case's clients live here)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            handler,
            data_size_limit=max_bytes,  # larger: 552 before the message is read whole
            enable_SMTPUTF8=True,
            hostname="helpdesk-mail",
            ident="Help Centre mail receiver",
        ),
        host=host,
        port=port,
    )
