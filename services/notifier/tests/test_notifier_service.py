from __future__ import annotations

import pytest

from notifier.app import mail_templates
from notifier.domain.compose import MailSettings
from notifier.ports import PermanentMailError, TransientMailError
from notifier.service import NotificationService
from shared.events import NotificationFailed, NotificationSent, TicketSubmitted, new_ticket_id
from shared.kafka import TransientError
from shared.topics import Topics

from .notifier_fakes import FakeDirectory, FakeLedger, FakeMailer, FakePublisher

pytestmark = pytest.mark.unit


def make_service() -> tuple[NotificationService, FakeMailer, FakeLedger, FakePublisher]:
    mailer, ledger, publisher = FakeMailer(), FakeLedger(), FakePublisher()
    service = NotificationService(
        directory=FakeDirectory(),
        mailer=mailer,
        ledger=ledger,
        publisher=publisher,
        templates=mail_templates(),
        mail_settings=MailSettings("Help <s@h.example>", "h.example", "r.h.example", "http://h"),
        topics=Topics(),
    )
    return service, mailer, ledger, publisher


def submitted(account_id: str = "acc-1001") -> TicketSubmitted:
    return TicketSubmitted(
        ticket_id=new_ticket_id(),
        account_id=account_id,
        correlation_id="c",
        category="withdrawals",
        subject="Stuck",
        description="Pending for days",
    )


async def test_sends_once_to_the_directory_address_even_when_redelivered() -> None:
    service, mailer, _, publisher = make_service()
    event = submitted()
    await service.handle(event)
    await service.handle(event)
    assert len(mailer.sent) == 1
    assert mailer.sent[0]["To"].addresses[0].addr_spec == "alice@example.com"
    outcomes = [e for _, e in publisher.published]
    assert all(isinstance(e, NotificationSent) for e in outcomes)
    # the outcome is re-announced with the same event id: history applies it once
    assert len({e.event_id for e in outcomes}) == 1


async def test_unverified_address_sends_nothing_and_reports_failure() -> None:
    service, mailer, _, publisher = make_service()
    await service.handle(submitted("acc-1003"))
    assert mailer.sent == []
    ((topic, failure),) = publisher.published
    assert topic == "notifications"
    assert isinstance(failure, NotificationFailed)
    assert "no verified e-mail" in failure.reason
    assert failure.permanent


async def test_transient_failure_releases_the_claim_for_the_retry() -> None:
    service, mailer, ledger, _ = make_service()
    mailer.fail_next.append(TransientMailError("451 later"))
    event = submitted()
    with pytest.raises(TransientError):
        await service.handle(event)
    assert ledger.entries == {}
    await service.handle(event)
    assert len(mailer.sent) == 1


async def test_permanent_failure_is_recorded_and_not_retried() -> None:
    service, mailer, _, publisher = make_service()
    mailer.fail_next.append(PermanentMailError("550 no such user"))
    event = submitted()
    await service.handle(event)
    await service.handle(event)
    assert mailer.sent == []
    assert {type(e) for _, e in publisher.published} == {NotificationFailed}
