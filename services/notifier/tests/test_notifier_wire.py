"""The notifier as a real process on the embedded stack: a request submitted in German through
the intake is answered in German (its language remembered in MongoDB, the reply carrying
none), and an account-recovery request on Kafka is mailed once, however often it comes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_maildir, wait_for_mail
from shared.contracts.events import AccountRecoveryRequested, AgentReplied, utcnow
from shared.contracts.recovery import new_recovery_id, recovery_token
from shared.contracts.topics import Topics
from shared.kafka.publishing import Publishable, event_headers, event_key
from shared.settings import DEVELOPMENT_RECOVERY_SECRET

pytestmark = pytest.mark.e2e

DEADLINE = 60.0


async def publish(bootstrap: str, topic: str, *events: Publishable) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic,
                event.model_dump_json().encode(),
                key=event_key(event).encode(),
                headers=[(k, v.encode()) for k, v in event_headers(event).items()],
            )
    finally:
        await producer.stop()


def with_notification(notification_id: str) -> Callable[[EmailMessage], bool]:
    return lambda m: str(m["X-Notification-Id"]) == notification_id


def body(mail: EmailMessage) -> str:
    text = mail.get_body(("plain",))
    assert text is not None
    return str(text.get_content())


async def test_a_german_request_is_answered_in_german(services: EmbeddedStack) -> None:
    config = services.config
    async with httpx.AsyncClient(base_url=config.url("intake"), timeout=10) as intake:
        accepted = await intake.post(
            "/v1/tickets",
            headers=bearer("acc-1001"),
            json={
                "category": "cards",
                "subject": "Karte nicht angekommen",
                "description": "Meine Karte ist nach drei Wochen noch nicht angekommen.",
                "locale": "de-DE",
            },
        )
    assert accepted.status_code == 202, accepted.text
    ticket_id = accepted.json()["ticket_id"]
    (ack,) = await wait_for_mail(
        config.maildir, lambda m: str(m["X-Request-Id"]) == ticket_id, timeout=DEADLINE
    )
    assert str(ack["Subject"]) == f"[Anfrage #{ticket_id}] Wir haben Ihre Anfrage erhalten"

    reply = AgentReplied(
        ticket_id=ticket_id,
        account_id="acc-1001",
        correlation_id=f"wire-{ticket_id}",
        agent_id="agent-2",
        body="Wir haben die Karte neu versendet.",
    )
    await publish(config.kafka_bootstrap, Topics(config.topic_prefix).activity, reply)
    (mail,) = await wait_for_mail(
        config.maildir, with_notification(f"{reply.event_id}:agent_reply"), timeout=DEADLINE
    )
    assert str(mail["Subject"]) == f"[Anfrage #{ticket_id}] Neue Antwort auf Ihre Anfrage"
    assert mail["Content-Language"] == "de"
    assert f"/my-activities/{ticket_id}#comment" in body(mail)


async def test_a_recovery_request_is_mailed_once_with_its_link(services: EmbeddedStack) -> None:
    config = services.config

    def requested() -> AccountRecoveryRequested:
        return AccountRecoveryRequested(
            account_id="acc-1002",
            correlation_id="wire-recovery",
            recovery_id=new_recovery_id(),
            expires_at=utcnow() + timedelta(minutes=30),
            locale="es",
        )

    event, later = requested(), requested()
    # The event twice (a redelivery), then another for the same account: one key, one
    # partition, in order, so once the later one's mail is there the copy was handled too.
    await publish(config.kafka_bootstrap, Topics(config.topic_prefix).recovery, event, event, later)
    await wait_for_mail(
        config.maildir, with_notification(f"{later.event_id}:account_recovery"), timeout=DEADLINE
    )
    mails = [
        m
        for m in read_maildir(config.maildir)
        if str(m["X-Notification-Id"]) == f"{event.event_id}:account_recovery"
    ]
    assert len(mails) == 1
    (mail,) = mails
    assert mail["X-Envelope-To"] == "bob@example.com"  # the directory's address
    assert str(mail["Subject"]) == "Su enlace para recuperar su cuenta"
    token = recovery_token(event.recovery_id, DEVELOPMENT_RECOVERY_SECRET)
    assert f"{config.url('history')}/account-recovery/{token}\n" in body(mail)
    assert config.log_dir is not None
    assert token not in (config.log_dir / "notifier.log").read_text()
