"""SMTP delivery over reused connections.

A connection per mail (connect, banner, EHLO, the mail, QUIT) cost the notifier and the mail
server more than the mail itself (notifier.mail_bench). The mailer keeps the connections it
opened and sends the next mail over an idle one: one sender at a time per connection, as many
connections as mails are sent at once (NOTIFIER_CONCURRENCY, plus the retry loop). A connection
is closed after `smtp_messages_per_connection` mails, after `smtp_idle_seconds` unused, or on
any error; `close()` (the app's shutdown) says QUIT on the idle ones.

A reused connection may have been dropped by the server meanwhile (idle timeout, a restart,
a limit of mails per connection: 421). Such a failure is retried once at once on a new
connection; only a failure on a new connection reaches the caller (TransientMailError: the
notifier's retry queue). Retrying a mail whose DATA the server had accepted before the
connection broke would send it twice, but so would the retry queue: the duplicate window is
the same as with a connection per mail (docs/reliability.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from notifier.ports import PermanentMailError, TransientMailError
from notifier.settings import NotifierSettings
from shared.logging import get_logger

log = get_logger(__name__)

# The server closed, or is closing, the connection: a new one may succeed at once.
_DROPPED = (aiosmtplib.SMTPServerDisconnected, ConnectionError)
_CLOSING = 421


@dataclass
class _Connection:
    smtp: aiosmtplib.SMTP
    sent: int = 0
    idle_since: float = 0.0


class SmtpMailer:
    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings
        self._idle: list[_Connection] = []  # most recently used last
        self.opened = 0  # connections opened so far (tests, the bench)

    async def send(self, message: EmailMessage) -> None:
        connection = self._take()
        try:
            if connection is not None:
                try:
                    await self._send_over(connection, message)
                    return
                except aiosmtplib.SMTPResponseException as exc:
                    if exc.code != _CLOSING:
                        raise
                except _DROPPED:
                    pass
                log.info("smtp connection dropped by the server; sending over a new one")
            await self._send_over(await self._open(), message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(400 <= c < 500 for c in codes):
                raise TransientMailError(f"recipient deferred: {codes}") from exc
            raise PermanentMailError(f"recipient refused: {codes}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise TransientMailError(f"{exc.code} {exc.message}") from exc
            raise PermanentMailError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientMailError(repr(exc)) from exc

    async def close(self) -> None:
        """QUIT every idle connection (the app's shutdown)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            await _quit(connection.smtp)

    async def _send_over(self, connection: _Connection, message: EmailMessage) -> None:
        """One mail over `connection`; it goes back to the idle ones only if all went well."""
        try:
            await connection.smtp.send_message(message)
        except BaseException:
            connection.smtp.close()
            raise
        connection.sent += 1
        if connection.sent >= self._settings.smtp_messages_per_connection:
            await _quit(connection.smtp)
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    def _take(self) -> _Connection | None:
        """The most recently used idle connection that is still fresh enough; older ones are
        closed (without QUIT: the server may have dropped them)."""
        limit = time.monotonic() - self._settings.smtp_idle_seconds
        while self._idle:
            connection = self._idle.pop()
            if connection.idle_since >= limit and connection.smtp.is_connected:
                return connection
            connection.smtp.close()
        return None

    async def _open(self) -> _Connection:
        s = self._settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=s.smtp_timeout_seconds,
        )
        await smtp.connect()
        self.opened += 1
        return _Connection(smtp)


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        smtp.close()
