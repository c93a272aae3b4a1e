"""A local SMTP server (aiosmtpd) that delivers every message into a Maildir, one file a mail,
so a person or a test can read exactly what the notifier sent. Run it as its own process:
`python -m devstack.smtp_maildir --port 1025 --maildir .data/mail`.

Fault hooks for tests: `--reject-first N --reject-code 451` answers the first N messages with
that code (4xx transient, 5xx permanent) before accepting; with `--reject-containing TEXT`,
only messages whose text holds TEXT count (so a test's fault cannot hit another test's mail).
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import signal
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(
        self,
        maildir: Path,
        reject_first: int = 0,
        reject_code: int = 451,
        reject_containing: str = "",
    ) -> None:
        maildir.parent.mkdir(parents=True, exist_ok=True)
        self._box = mailbox.Maildir(str(maildir), create=True)
        self._reject_left = reject_first
        self._reject_code = reject_code
        self._reject_containing = reject_containing

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message = message_from_bytes(raw)
        if self._reject_left > 0 and self._reject_containing in _text_of(message):
            self._reject_left -= 1
            print(f"rejected a message with {self._reject_code}", flush=True)
            return f"{self._reject_code} test fault"
        # Record the SMTP envelope too: the recipients the notifier actually addressed.
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        message["X-Envelope-From"] = str(envelope.mail_from)
        self._box.add(mailbox.MaildirMessage(message))
        return "250 Message accepted for delivery"


def _text_of(message: Message) -> str:
    """Every text part, decoded (a mail's text may be quoted-printable or base64)."""
    parts = []
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


async def serve(host: str, port: int, maildir: Path, **handler_args: Any) -> None:
    controller = Controller(MaildirHandler(maildir, **handler_args), hostname=host, port=port)
    controller.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp listening on {host}:{port}, delivering into {maildir}", flush=True)
    try:
        await stop.wait()
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.smtp_maildir")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--reject-first", type=int, default=0)
    parser.add_argument("--reject-code", type=int, default=451)
    parser.add_argument("--reject-containing", default="")
    args = parser.parse_args()
    asyncio.run(
        serve(
            args.host,
            args.port,
            args.maildir,
            reject_first=args.reject_first,
            reject_code=args.reject_code,
            reject_containing=args.reject_containing,
        )
    )


if __name__ == "__main__":
    main()
