"""Account recovery with in-memory ports: the same answer for every address, a link only for
an eligible account's own address, one request per link, the link honoured only while it
lives, a mistake in the form leaving it usable."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import datetime, timedelta

import pytest

from intake.domain.attachments import CheckedFile
from intake.domain.recovery import LinkState, RecoveryGrant, address_key
from intake.domain.submission import SubmissionForm, SubmissionLimits
from intake.service.delivery import EventDelivery
from intake.service.errors import InvalidSubmissionError, RateLimitedError
from intake.service.recovery import RECOVERY_CATEGORY, AccountRecovery, RecoveryLinkError
from intake.service.submission import Submissions
from shared.contracts.catalog import load_catalog
from shared.contracts.events import AccountRecoveryRequested, TicketSubmitted
from shared.contracts.recovery import recovery_token
from shared.contracts.topics import Topics

from .intake_fakes import (
    FakeAttachmentStore,
    FakeDirectory,
    FakePublisher,
    FakeRateLimiter,
    FakeRecoveryStore,
    FakeSubmissionGate,
    FakeTicketStore,
)
from .intake_samples import jpeg

pytestmark = pytest.mark.unit

SECRET = "test-recovery-secret-of-enough-length"
FORM = SubmissionForm(
    category="cards",  # whatever is sent, a recovery request is a 2FA one
    subject="Lost my phone",
    description="My authenticator app was on the phone I lost.",
)


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 1, 12, 0, tzinfo=datetime.now().astimezone().tzinfo)

    def __call__(self) -> datetime:
        return self.at


def photo() -> CheckedFile:
    data = jpeg()
    return CheckedFile(
        0, "id.jpg", "image/jpeg", len(data), hashlib.sha256(data).hexdigest(), io.BytesIO(data)
    )


def recovery(clock: Clock, publisher: FakePublisher | None = None) -> AccountRecovery:
    publisher = publisher or FakePublisher()
    tickets = FakeTicketStore()
    delivery = EventDelivery(
        store=tickets, publisher=publisher, timeout_seconds=0.2, grace=timedelta(0)
    )
    submissions = Submissions(
        catalog=load_catalog(),
        limits=SubmissionLimits(),
        topics=Topics(),
        store=tickets,
        delivery=delivery,
        attachments=FakeAttachmentStore(),
        gate=FakeSubmissionGate(),
    )
    return AccountRecovery(
        topics=Topics(),
        grants=FakeRecoveryStore(),
        accounts=FakeDirectory(),
        events=publisher,
        submissions=submissions,
        per_address=FakeRateLimiter(limit=3),
        per_client=FakeRateLimiter(limit=10),
        secret=SECRET,
        per_address_limit=3,
        per_client_limit=10,
        now=clock,
    )


def links(publisher: FakePublisher) -> list[str]:
    return [
        recovery_token(e.recovery_id, SECRET)
        for _, e in publisher.events
        if isinstance(e, AccountRecoveryRequested)
    ]


async def test_a_verified_customer_address_gets_a_link_for_its_account() -> None:
    clock, publisher = Clock(), FakePublisher()
    service = recovery(clock, publisher)
    assert await service.send_link("  Alice@Example.com ", "de-AT", "corr-1")
    ((topic, event),) = publisher.events
    assert topic == "accounts.recovery"
    assert isinstance(event, AccountRecoveryRequested)
    assert event.account_id == "acc-1001"
    assert event.locale == "de"
    assert event.expires_at == clock.at + timedelta(minutes=30)
    state, grant = await service.link(recovery_token(event.recovery_id, SECRET))
    assert state is LinkState.VALID
    assert grant is not None
    assert grant.account_id == "acc-1001"


@pytest.mark.parametrize(
    "email",
    [
        "nobody@example.com",  # no account
        "carol@example.com",  # the address is not verified: it may be anyone's
        "agent.one@support.example.com",  # agents recover elsewhere
    ],
)
async def test_no_link_for_an_address_that_is_no_eligible_account(email: str) -> None:
    publisher = FakePublisher()
    service = recovery(Clock(), publisher)
    assert not await service.send_link(email, "en", "corr")
    assert publisher.events == []


async def test_a_failure_after_the_answer_is_logged_not_raised() -> None:
    publisher = FakePublisher(fail=True)
    assert not await recovery(Clock(), publisher).send_link("alice@example.com", "en", "corr")


async def test_limits_per_address_and_per_client_apply_to_any_address() -> None:
    service = recovery(Clock())
    for _ in range(3):
        await service.admit("nobody@example.com", "10.0.0.1")
    with pytest.raises(RateLimitedError):
        await service.admit("NOBODY@example.com ", "10.0.0.2")  # the same address, normalised
    for n in range(7):  # the client's 10 per hour: 3 above, 7 more
        await service.admit(f"other{n}@example.com", "10.0.0.1")
    with pytest.raises(RateLimitedError):
        await service.admit("fresh@example.com", "10.0.0.1")
    assert address_key("a@b.c") == address_key(" A@B.C")
    assert "a@b.c" not in address_key("a@b.c")  # the store holds a hash, not the address


async def test_a_link_files_one_2fa_request_for_its_account_then_is_used() -> None:
    clock, publisher = Clock(), FakePublisher()
    service = recovery(clock, publisher)
    await service.send_link("alice@example.com", "en", "corr")
    (token,) = links(publisher)
    submitted = await service.file_request(token, FORM, files=[photo()], correlation_id="c")
    (event,) = [e for _, e in publisher.events if isinstance(e, TicketSubmitted)]
    assert event.ticket_id == submitted.receipt.ticket_id
    assert event.account_id == "acc-1001"
    assert event.category == RECOVERY_CATEGORY
    assert not event.required_documents_missing
    assert (await service.link(token))[0] is LinkState.USED
    with pytest.raises(RecoveryLinkError) as refused:
        await service.file_request(token, FORM, files=[photo()], correlation_id="c")
    assert refused.value.state is LinkState.USED


async def test_two_submissions_racing_with_one_link_file_one_request() -> None:
    publisher = FakePublisher()
    service = recovery(Clock(), publisher)
    await service.send_link("bob@example.com", "en", "corr")
    (token,) = links(publisher)
    results = await asyncio.gather(
        *(service.file_request(token, FORM, files=[photo()], correlation_id="c") for _ in range(2)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, RecoveryLinkError) for r in results) == 1
    assert len([e for _, e in publisher.events if isinstance(e, TicketSubmitted)]) == 1


async def test_a_mistake_in_the_form_leaves_the_link_usable() -> None:
    publisher = FakePublisher()
    service = recovery(Clock(), publisher)
    await service.send_link("alice@example.com", "en", "corr")
    (token,) = links(publisher)
    with pytest.raises(InvalidSubmissionError):  # no ID photo
        await service.file_request(token, FORM, files=[], correlation_id="c")
    short = SubmissionForm(category="", subject="2FA", description="short")
    with pytest.raises(InvalidSubmissionError):  # the description is too short
        await service.file_request(token, short, files=[photo()], correlation_id="c")
    assert (await service.link(token))[0] is LinkState.VALID
    await service.file_request(token, FORM, files=[photo()], correlation_id="c")


async def test_an_expired_a_forged_and_another_secrets_link_are_refused() -> None:
    clock, publisher = Clock(), FakePublisher()
    service = recovery(clock, publisher)
    await service.send_link("alice@example.com", "en", "corr")
    (token,) = links(publisher)
    recovery_id = token.split(".")[0]
    for forged in (
        recovery_token(recovery_id, "another-secret-another-secret-xx"),
        recovery_id + "." + "0" * 32,
        "not a token",
        recovery_token("A" * 22, SECRET),  # well signed, but no such grant
    ):
        with pytest.raises(RecoveryLinkError) as refused:
            await service.file_request(forged, FORM, files=[photo()], correlation_id="c")
        assert refused.value.state is LinkState.INVALID
    clock.at += timedelta(minutes=31)
    with pytest.raises(RecoveryLinkError) as expired:
        await service.file_request(token, FORM, files=[photo()], correlation_id="c")
    assert expired.value.state is LinkState.EXPIRED


def test_a_grant_claimed_by_a_crashed_submission_is_usable_again_after_its_lease() -> None:
    now = datetime(2026, 12, 1, 12, 0).astimezone()
    grant = RecoveryGrant("A" * 22, "acc-1", now, now + timedelta(minutes=30), claimed_at=now)
    lease = timedelta(minutes=2)
    assert grant.state(now + timedelta(minutes=1), lease) is LinkState.USED
    assert grant.state(now + timedelta(minutes=3), lease) is LinkState.VALID
    assert grant.state(now + timedelta(minutes=31), lease) is LinkState.EXPIRED
