"""The use cases with in-memory ports: what is recorded and published, what is undone on a
failed publish, and what concurrency cannot break."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import time
from dataclasses import dataclass

import pytest

from intake.domain.attachments import CheckedFile
from intake.domain.submission import SubmissionForm, SubmissionLimits
from intake.idempotency import IdempotencyGate
from intake.service import (
    AttachmentNotFoundError,
    IntakeService,
    PublishFailedError,
    RateLimitedError,
    TicketNotFoundError,
)
from shared.contracts.catalog import load_catalog
from shared.contracts.events import Envelope, StatusChanged, TicketSubmitted
from shared.contracts.statuses import IllegalTransitionError, Status
from shared.contracts.topics import Topics

from .intake_fakes import (
    FakeAttachmentStore,
    FakeIdempotencyStore,
    FakePublisher,
    FakeRateLimiter,
    FakeTicketStore,
)
from .intake_samples import jpeg

pytestmark = pytest.mark.unit

FORM = SubmissionForm(
    category="disable-2fa", subject="New phone", description="I lost my authenticator app."
)


@dataclass
class World:
    service: IntakeService
    publisher: FakePublisher
    tickets: FakeTicketStore
    files: FakeAttachmentStore
    claims: FakeIdempotencyStore
    limiter: FakeRateLimiter

    def published(self, kind: type[Envelope]) -> list[Envelope]:
        return [e for _, e in self.publisher.events if isinstance(e, kind)]


@pytest.fixture
def world() -> World:
    publisher, tickets, files = FakePublisher(), FakeTicketStore(), FakeAttachmentStore()
    claims, limiter = FakeIdempotencyStore(), FakeRateLimiter(limit=3)
    service = IntakeService(
        catalog=load_catalog(),
        limits=SubmissionLimits(),
        topics=Topics(),
        store=tickets,
        publisher=publisher,
        attachments=files,
        idempotency=IdempotencyGate(claims, wait_seconds=2, poll_seconds=0.005),
        rate_limiter=limiter,
        rate_limit=3,
        publish_timeout_seconds=0.2,
    )
    return World(service, publisher, tickets, files, claims, limiter)


def photo() -> CheckedFile:
    data = jpeg()
    return CheckedFile(
        0, "id.jpg", "image/jpeg", len(data), hashlib.sha256(data).hexdigest(), io.BytesIO(data)
    )


async def submit(world: World, account: str = "acc-1", **kwargs: object) -> str:
    result = await world.service.submit(FORM, account_id=account, correlation_id="c", **kwargs)  # type: ignore[arg-type]
    return result.receipt.ticket_id


async def test_a_submission_is_recorded_then_published(world: World) -> None:
    ticket_id = await submit(world, files=[photo()])
    (event,) = world.published(TicketSubmitted)
    assert isinstance(event, TicketSubmitted)
    assert event.ticket_id == ticket_id
    assert not event.required_documents_missing  # the photo came along
    assert world.tickets.tickets[ticket_id].status is Status.NEW
    assert [f[0] for f in world.files.files.values()] == [ticket_id]


async def test_a_failed_publish_leaves_nothing(world: World) -> None:
    world.publisher.fail = True
    with pytest.raises(PublishFailedError):
        await submit(world, files=[photo()], idempotency_key="k1")
    assert world.tickets.tickets == {}
    assert world.files.files == {}
    assert world.limiter.slots["acc-1"] == []
    assert world.claims.records == {}


async def test_a_hung_publish_times_out_and_leaves_nothing(world: World) -> None:
    class Hanging:
        async def publish(self, topic: str, event: Envelope) -> None:
            await asyncio.sleep(60)

    world.service.publisher = Hanging()
    started = time.monotonic()
    with pytest.raises(PublishFailedError):
        await submit(world, files=[photo()])
    assert time.monotonic() - started < 1
    assert (world.tickets.tickets, world.files.files) == ({}, {})


async def test_concurrent_retries_with_one_key_make_one_ticket(world: World) -> None:
    results = await asyncio.gather(
        *(
            world.service.submit(FORM, account_id="acc-1", correlation_id="c", idempotency_key="k")
            for _ in range(10)
        )
    )
    assert len({r.receipt for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len(world.published(TicketSubmitted)) == 1


async def test_the_rate_limit_counts_new_requests_only(world: World) -> None:
    for n in range(3):
        await world.service.submit(
            SubmissionForm("cards", f"Card {n}", "My card has not arrived."),
            account_id="acc-1",
            correlation_id="c",
        )
    with pytest.raises(RateLimitedError) as caught:
        await world.service.submit(
            SubmissionForm("cards", "Card 4", "My card has not arrived."),
            account_id="acc-1",
            correlation_id="c",
        )
    assert 3590 < caught.value.retry_after_seconds <= 3600
    # The same request as the first is a replay, not a fourth request.
    replay = await world.service.submit(
        SubmissionForm("cards", "Card 0", "My card has not arrived."),
        account_id="acc-1",
        correlation_id="c",
    )
    assert replay.replayed


async def test_concurrent_status_changes_each_decide_on_the_status_they_replace(
    world: World,
) -> None:
    ticket_id = await submit(world)
    world.tickets.read_delay = 0.01  # every task reads "new" before any writes
    targets = [Status.SOLVED, Status.ON_HOLD, Status.CLOSED, Status.PENDING, Status.OPEN]
    results = await asyncio.gather(
        *(
            world.service.change_status(ticket_id, t, None, agent_id="ag", correlation_id="c")
            for t in targets
        ),
        return_exceptions=True,
    )
    assert all(
        isinstance(r, IllegalTransitionError) or not isinstance(r, Exception) for r in results
    )
    changes = [e.status_change for e in world.published(StatusChanged)]  # type: ignore[attr-defined]
    # A chain: each change starts where the one before ended, so none passed on a stale read.
    assert changes[0].from_status is Status.NEW
    for before, after in itertools.pairwise(changes):
        assert after.from_status is before.to_status
    assert world.tickets.tickets[ticket_id].status is changes[-1].to_status


async def test_the_same_change_twice_at_once_passes_once(world: World) -> None:
    ticket_id = await submit(world)
    world.tickets.read_delay = 0.01
    results = await asyncio.gather(
        *(
            world.service.change_status(
                ticket_id, Status.CLOSED, None, agent_id="ag", correlation_id="c"
            )
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert len(world.published(StatusChanged)) == 1


async def test_a_failed_publish_puts_the_status_back(world: World) -> None:
    ticket_id = await submit(world)
    world.publisher.fail = True
    with pytest.raises(PublishFailedError):
        await world.service.request_information(
            ticket_id, "Send your ID", ["ID"], agent_id="ag", correlation_id="c"
        )
    with pytest.raises(PublishFailedError):
        await world.service.upload_documents(
            ticket_id, [photo()], account_id="acc-1", correlation_id="c"
        )
    assert world.tickets.tickets[ticket_id].status is Status.NEW
    assert len(world.files.files) == 0


async def test_someone_elses_request_is_not_found(world: World) -> None:
    ticket_id = await submit(world, files=[photo()])
    with pytest.raises(TicketNotFoundError):
        await world.service.comment(ticket_id, "hi", account_id="acc-2", correlation_id="c")
    attachment_id = next(iter(world.files.files))
    with pytest.raises(AttachmentNotFoundError):
        await world.service.open_attachment(
            ticket_id, attachment_id, reader_id="acc-2", role="customer"
        )
    with pytest.raises(AttachmentNotFoundError):
        await world.service.open_attachment(
            ticket_id, attachment_id, reader_id="dash", role="dashboard"
        )
    stored = await world.service.open_attachment(
        ticket_id, attachment_id, reader_id="agent", role="agent"
    )
    assert stored.ref.content_type == "image/jpeg"
