"""The SMTP mailer reuses its connections (notifier.adapters.smtp): against an aiosmtpd server
of the test's own, so the server can be restarted under it without touching the session's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.stack import free_port
from notifier.adapters.smtp import SmtpMailer
from notifier.ports import PermanentMailError
from notifier.settings import NotifierSettings

pytestmark = pytest.mark.integration


class Inbox:
    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.sessions: set[int] = set()  # one per connection
        self.refuse = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.refuse:
            self.refuse -= 1
            return "550 no such user"
        self.sessions.add(id(session))
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        subject = next((line for line in content.splitlines() if line.startswith(b"Subject:")), b"")
        self.subjects.append(subject.decode().removeprefix("Subject: "))
        return "250 OK"


class Server:
    """An aiosmtpd server on a port of its own that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    running.start()
    yield running
    running.stop()


def mailer(server: Server, **settings: Any) -> SmtpMailer:
    return SmtpMailer(NotifierSettings(smtp_host="127.0.0.1", smtp_port=server.port, **settings))


def mail(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "support@helpcentre.example"
    message["To"] = "alice@example.com"
    message["Subject"] = f"mail {n}"
    message.set_content("Hello")
    return message


async def test_mails_go_out_over_one_connection_each_sender(server: Server) -> None:
    smtp = mailer(server)
    for n in range(5):
        await smtp.send(mail(n))
    assert smtp.opened == 1
    assert len(server.inbox.sessions) == 1

    # Four at once need four connections, no more; then they are all reused.
    await asyncio.gather(*(smtp.send(mail(n)) for n in range(5, 9)))
    await asyncio.gather(*(smtp.send(mail(n)) for n in range(9, 13)))
    assert smtp.opened == 4
    assert sorted(server.inbox.subjects) == sorted(f"mail {n}" for n in range(13))
    await smtp.close()


async def test_a_connection_is_closed_after_its_share_of_mails_or_when_idle(
    server: Server,
) -> None:
    smtp = mailer(server, smtp_messages_per_connection=2)
    for n in range(5):
        await smtp.send(mail(n))
    assert smtp.opened == 3

    smtp = mailer(server, smtp_idle_seconds=0)  # every idle connection is too old to reuse
    for n in range(3):
        await smtp.send(mail(n))
    assert smtp.opened == 3
    await smtp.close()


async def test_a_connection_the_server_dropped_is_replaced_without_a_failure(
    server: Server,
) -> None:
    smtp = mailer(server)
    await smtp.send(mail(0))
    server.stop()  # the idle connection is cut
    server.start()
    await smtp.send(mail(1))  # over a new connection, not a TransientMailError
    assert smtp.opened == 2
    assert server.inbox.subjects == ["mail 0", "mail 1"]
    await smtp.close()


async def test_a_refused_mail_closes_its_connection_and_the_next_mail_gets_a_fresh_one(
    server: Server,
) -> None:
    smtp = mailer(server)
    await smtp.send(mail(0))
    server.inbox.refuse = 1
    with pytest.raises(PermanentMailError, match="550"):
        await smtp.send(mail(1))
    await smtp.send(mail(2))
    assert smtp.opened == 2
    assert server.inbox.subjects == ["mail 0", "mail 2"]
    await smtp.close()
