"""Submitting a request: validate, recognise a retry, record with its event in the outbox,
publish.

Exactly one request per submission, whatever fails when: the ticket id and event id are
fixed when the submission is first claimed (by its Idempotency-Key, or by its content within
the duplicate window), so every retry carries out the same plan. A retry after a crash, or
after a publish that was not confirmed in time, finds the request recorded and publishes the
same event again (consumers recognise its id); what no client retries, the relay publishes.

Three store round trips for a new request: the gate read, its write (claim and rate-limit slot
together, compare-and-set; `intake.domain.submission_gate`), and the record with its outbox;
taking the published event out of the outbox is deferred and shared with other requests'
(EventDelivery).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import key_digest, submission_fingerprint
from intake.domain.outbox import OutboxEntry
from intake.domain.submission import SubmissionForm, SubmissionLimits, build_submission, check_form
from intake.domain.submission_gate import (
    Admitted,
    Existing,
    GateClaim,
    GateRequest,
    KeyReused,
    Limited,
    judge,
)
from intake.ports import AttachmentStore, SubmissionGate, TicketRecord, TicketStore
from intake.service.common import best_effort
from intake.service.delivery import EventDelivery
from intake.service.errors import InvalidSubmissionError, PublishFailedError, RateLimitedError
from intake.service.idempotency import IdempotencyKeyReusedError
from intake.service.receipts import SubmissionReceipt, Submitted
from shared.contracts.catalog import Catalog
from shared.contracts.events import AttachmentRef, new_ticket_id, utcnow
from shared.contracts.topics import Topics
from shared.logging import get_logger

log = get_logger(__name__)


def new_plan() -> dict[str, str]:
    return {"ticket_id": new_ticket_id(), "event_id": str(uuid4())}


@dataclass(frozen=True, slots=True)
class Asked:
    """What one submission asks for, whichever claim's ids it is carried out under."""

    files: Sequence[CheckedFile]
    form: SubmissionForm
    account_id: str
    correlation_id: str
    follow_up_of: str | None


@dataclass
class Submissions:
    catalog: Catalog
    limits: SubmissionLimits
    topics: Topics
    store: TicketStore
    delivery: EventDelivery
    attachments: AttachmentStore
    gate: SubmissionGate
    rate_limit: int = 20
    rate_window: timedelta = timedelta(hours=1)
    duplicate_window: timedelta = timedelta(minutes=10)
    key_ttl: timedelta = timedelta(days=1)
    now: Callable[[], datetime] = utcnow

    async def submit(
        self,
        form: SubmissionForm,
        *,
        account_id: str,
        correlation_id: str,
        files: Sequence[CheckedFile] = (),
        idempotency_key: str | None = None,
        follow_up_of: str | None = None,
    ) -> Submitted:
        errors = check_form(form, self.limits, self.catalog)
        if errors:
            raise InvalidSubmissionError(errors)
        request = GateRequest(
            account_id=account_id,
            token=uuid4().hex,
            key=key_digest(idempotency_key) if idempotency_key is not None else None,
            fingerprint=submission_fingerprint(
                account_id=account_id,
                category=form.category,
                subject=form.subject,
                description=form.description,
                attachment_hashes=[f.sha256 for f in files],
            ),
            plan=new_plan(),
            now=self.now(),
            key_ttl=self.key_ttl,
            duplicate_window=self.duplicate_window,
            limit=self.rate_limit,
            window=self.rate_window,
        )
        # The key or the content recognised, or a claim and a slot taken, in one decision.
        verdict = judge(await self.gate.admit(request), request)
        asked = Asked(files, form, account_id, correlation_id, follow_up_of)
        match verdict:
            case KeyReused():
                raise IdempotencyKeyReusedError(
                    "this Idempotency-Key was already used for a different request; use a new"
                    " key for a new request"
                )
            case Limited(retry_after):
                raise RateLimitedError(
                    "new requests", self.rate_limit, self.rate_window, retry_after
                )
            case Existing(claim):
                return await self._carry_out(claim, asked)
            case Admitted(claim):
                try:
                    receipt, created = await self._create(claim, asked)
                except PublishFailedError:
                    # Recorded, maybe published: the retry publishes it (same plan, same ids).
                    await best_effort(self.gate.abandon(account_id, claim.token), "abandon claim")
                    raise
                # Any other failure keeps the claim and its slot: the retry carries out the
                # same plan, so nothing a crashed attempt left half done becomes a second one.
                return Submitted(receipt, replayed=not created)  # a twin recorded it first

    async def _carry_out(self, claim: GateClaim, asked: Asked) -> Submitted:
        """An earlier attempt claimed this submission: answer as it did, publishing what it
        may not have; if it has not recorded the request (still at work, or it died before),
        record it under the same plan — the ticket's unique id decides between the twins."""
        record = await self.store.get(claim.plan["ticket_id"])
        if record is None:
            receipt, created = await self._create(claim, asked)
            return Submitted(receipt, replayed=not created)
        log.info("submission answered from an earlier identical one")
        return Submitted(await self._finish_earlier(record, claim.abandoned), replayed=True)

    async def follow_up(
        self,
        closed: TicketRecord,
        message: str,
        *,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> Submitted:
        """A new request for a customer's message on a closed one: its category and subject
        carry on, the message is its description, and it names the request it follows up."""
        content = closed.content
        category = content.category if content else self.catalog.categories[0].id
        subject = f"Follow-up to {closed.ticket_id}" + (f": {content.subject}" if content else "")
        form = SubmissionForm(
            category=category,
            subject=subject[: self.limits.subject_max],
            description=f"{message}\n\n(Follow-up to request {closed.ticket_id})",
            locale=content.locale if content else "en",
        )
        return await self.submit(
            form,
            account_id=closed.account_id,
            correlation_id=correlation_id,
            idempotency_key=idempotency_key,
            follow_up_of=closed.ticket_id,
        )

    async def _create(self, claim: GateClaim, asked: Asked) -> tuple[SubmissionReceipt, bool]:
        """Record the request under the claim's plan and publish it; False with the earlier
        attempt's receipt when a twin recorded it first."""
        ticket_id = claim.plan["ticket_id"]
        refs: list[AttachmentRef] = []
        try:
            for file in asked.files:
                refs.append(await self.attachments.save(ticket_id, asked.account_id, file))
            event = build_submission(
                dataclasses.replace(asked.form, attachments=tuple(refs)),
                account_id=asked.account_id,
                ticket_id=ticket_id,
                event_id=UUID(claim.plan["event_id"]),
                correlation_id=asked.correlation_id,
                catalog=self.catalog,
                follow_up_of=asked.follow_up_of,
            )
            receipt = SubmissionReceipt(ticket_id, event.required_documents_missing, tuple(refs))
            entry = OutboxEntry.of(self.topics.submitted, event, self.delivery.now())
            added = await self.store.add(
                event, entry, receipt.to_document(), self.delivery.due_at()
            )
        except BaseException:
            # Not recorded: nothing of it may remain.
            if refs:
                await best_effort(
                    self.attachments.delete(r.attachment_id for r in refs), "delete files"
                )
            raise
        if not added:  # a twin attempt of the same plan recorded it a moment before us
            await best_effort(
                self.attachments.delete(r.attachment_id for r in refs), "delete files"
            )
            twin = await self.store.get(ticket_id)
            assert twin is not None
            return await self._finish_earlier(twin, claim.abandoned), False
        # Recorded: from here on the request exists, whether Kafka confirms now or later.
        await self.delivery.publish(ticket_id, [(self.topics.submitted, event)])
        log.info(
            "ticket submitted",
            ticket_id=ticket_id,
            category=event.category,
            attachments=len(refs),
            required_documents_missing=event.required_documents_missing,
        )
        return receipt, True

    async def _finish_earlier(self, record: TicketRecord, abandoned: bool) -> SubmissionReceipt:
        """An earlier attempt of this submission recorded the request: publish what it gave
        up on (all of it when it said so), and answer as it would have."""
        log.info("submission recorded by an earlier attempt", ticket_id=record.ticket_id)
        if abandoned:
            await self.delivery.publish_all(record)
        else:
            await self.delivery.publish_pending(record)
        if record.receipt is None:
            return SubmissionReceipt(record.ticket_id, required_documents_missing=False)
        return SubmissionReceipt.from_document(record.receipt)
