"""The account-recovery mail: to the directory's address only, in the event's language, with
the signed one-time link, once however often the event comes, and the link in no log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from faststream.kafka import KafkaBroker
from structlog.testing import capture_logs

from notifier.adapters.kafka import KafkaFailedDeliveries
from notifier.ports import PermanentMailError, TransientMailError
from shared.contracts.events import AccountRecoveryRequested
from shared.contracts.recovery import recovery_id_of, recovery_token
from shared.contracts.topics import Topics
from shared.kafka.records import InboundRecord
from shared.settings import DEVELOPMENT_RECOVERY_SECRET

from .notifier_fakes import BASE_URL, harness, record_of

pytestmark = pytest.mark.unit

RECOVERY_ID = "Zq3-recovery_id-0123456789"


def requested(account_id: str = "acc-1001", locale: str = "de") -> AccountRecoveryRequested:
    return AccountRecoveryRequested(
        account_id=account_id,
        correlation_id="c-recovery",
        recovery_id=RECOVERY_ID,
        expires_at=datetime(2026, 12, 2, 1, 30, tzinfo=UTC),
        locale=locale,
    )


LINK = f"{BASE_URL}/account-recovery/{recovery_token(RECOVERY_ID, DEVELOPMENT_RECOVERY_SECRET)}"


async def test_the_link_goes_to_the_directory_address_in_the_events_language() -> None:
    h = harness()
    event = requested(locale="de-CH")
    await h.service.handle(event)
    (mail,) = h.mailer.sent
    assert mail["To"].addresses[0].addr_spec == "alice@example.com"  # the directory's
    assert mail["Subject"] == "Ihr Link zur Wiederherstellung Ihres Kontos"
    assert mail["Content-Language"] == "de"
    assert mail["Message-ID"] == f"<{event.event_id}.account_recovery@h.example>"
    # no request: nothing to reply to, nothing to thread with
    for header in ("Reply-To", "In-Reply-To", "References", "X-Request-Id"):
        assert header not in mail
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    plain = text.get_content()
    assert f"\n{LINK}\n" in plain
    assert f'<a href="{LINK}">' in html.get_content()
    assert "nur einmal und nur bis zum 2. Dezember 2026, 01:30 UTC" in plain
    assert "können Sie diese E-Mail ignorieren" in plain
    token = LINK.rpartition("/")[2]
    assert recovery_id_of(token, DEVELOPMENT_RECOVERY_SECRET) == RECOVERY_ID  # intake honours it


@pytest.mark.parametrize(
    ("locale", "until"),
    [("en", "only until December 2, 2026, 1:30 AM UTC"), ("es", "hasta el 2 de diciembre")],
)
async def test_the_expiry_reads_as_the_customer_reads_dates(locale: str, until: str) -> None:
    h = harness()
    await h.service.handle(requested(locale=locale))
    text = h.mailer.sent[0].get_body(("plain",))
    assert text is not None
    assert until in text.get_content().replace("\u202f", " ")  # CLDR: a narrow space before AM


async def test_a_redelivered_request_sends_no_second_mail_and_announces_nothing() -> None:
    h = harness()
    event = requested()
    outcomes: list[tuple[str, str]] = []
    h.service.on_outcome = lambda kind, outcome: outcomes.append((kind, outcome))
    await h.service.handle_records([record_of(event, 0, "accounts.recovery")])
    # redelivered, even at a new offset
    await h.service.handle_records([record_of(event, 1, "accounts.recovery")])
    await h.service.handle(event)
    assert len(h.mailer.sent) == 1
    assert h.publisher.published == []  # NotificationSent names a ticket: there is none
    assert h.ledger.entries[f"{event.event_id}:account_recovery"].state == "sent"
    assert outcomes == [("account_recovery", "sent"), *[("account_recovery", "duplicate")] * 2]


@pytest.mark.parametrize("account_id", ["acc-1003", "acc-nobody"], ids=["unverified", "missing"])
async def test_no_verified_address_means_no_link(account_id: str) -> None:
    h = harness()
    event = requested(account_id)
    await h.service.handle(event)
    assert h.mailer.sent == []
    assert h.ledger.entries[f"{event.event_id}:account_recovery"].state == "failed"
    assert h.publisher.published == []
    assert h.failed.parked == []


async def test_a_transient_failure_is_retried_and_a_refusal_dead_lettered() -> None:
    h = harness()
    h.mailer.fail_next.append(TransientMailError("451 later"))
    deferred = requested()
    await h.service.handle(deferred)
    ((retry, _),) = h.retries.scheduled.values()
    assert retry.source == deferred
    assert await h.service.retry_due() == 1
    assert len(h.mailer.sent) == 1

    h.mailer.fail_next.append(PermanentMailError("550 no such user"))
    refused = requested()
    await h.service.handle(refused)
    assert [(source, attempts) for source, _, attempts in h.failed.parked] == [(refused, 1)]
    assert len(h.mailer.sent) == 1


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, value: bytes, **options: Any) -> None:
        self.published.append({"value": value, **options})


async def test_a_dead_lettered_recovery_request_goes_to_its_own_topics_dlq() -> None:
    broker = RecordingBroker()
    failed = KafkaFailedDeliveries(cast(KafkaBroker, broker), Topics("p."), "notifier")
    event = requested()
    await failed.dead_letter(event, "550 no such user", 1)
    (parked,) = broker.published
    assert parked["topic"] == "p.accounts.recovery.dlq"
    assert parked["key"] == b"acc-1001"
    assert parked["headers"]["event_type"] == "AccountRecoveryRequested"
    assert AccountRecoveryRequested.model_validate_json(parked["value"]) == event


async def test_the_link_is_never_logged() -> None:
    h = harness()
    token = LINK.rpartition("/")[2]
    h.mailer.fail_next.append(TransientMailError("451 later"))
    event = requested()
    with capture_logs() as logs:
        await h.service.handle(event)
        await h.service.retry_due()
        await h.service.handle(event)  # the duplicate
        await h.service.handle(requested("acc-1003"))  # the failure
    assert len(h.mailer.sent) == 1
    assert logs  # it did log: sent, deferred, duplicate, failed
    assert not [
        entry for entry in logs if token in repr(entry) or "account-recovery/" in repr(entry)
    ]
    # nor does anything the notifier keeps: the ledger and the retries hold ids only
    assert token not in repr(h.ledger.entries)
    assert token not in repr(h.retries.scheduled)


async def test_a_poisoned_recovery_record_is_parked_alone() -> None:
    h = harness()
    good = requested()
    poison = InboundRecord("accounts.recovery", 0, 1, b"acc-1001", b'{"event_type": "Acc', {})
    await h.service.handle_records([poison, record_of(good, 2, "accounts.recovery")])
    assert len(h.mailer.sent) == 1
    assert [r.offset for r, _ in h.service.dead_letters.parked] == [1]  # type: ignore[attr-defined]
