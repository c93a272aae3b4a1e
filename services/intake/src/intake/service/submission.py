"""Submitting a request: validate, recognise a retry, record with its event in the outbox,
publish.

Exactly one request per submission, whatever fails when: the ticket id and event id are
fixed when the submission is first claimed (by its Idempotency-Key, or by its content within
the duplicate window), so every retry carries out the same plan. A retry after a crash, or
after a publish that was not confirmed in time, finds the request recorded and publishes the
same event again (consumers recognise its id); what no client retries, the relay publishes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import content_record_id, key_record_id, submission_fingerprint
from intake.domain.outbox import OutboxEntry
from intake.domain.submission import SubmissionForm, SubmissionLimits, build_submission, check_form
from intake.ports import AttachmentStore, RateLimiter, TicketRecord, TicketStore
from intake.service.common import best_effort
from intake.service.delivery import EventDelivery
from intake.service.errors import InvalidSubmissionError, PublishFailedError, RateLimitedError
from intake.service.idempotency import Claimed, IdempotencyGate, Replayed
from intake.service.receipts import SubmissionReceipt, Submitted
from shared.contracts.catalog import Catalog
from shared.contracts.events import AttachmentRef, new_ticket_id
from shared.contracts.topics import Topics
from shared.logging import get_logger

log = get_logger(__name__)


def new_plan() -> dict[str, str]:
    return {"ticket_id": new_ticket_id(), "event_id": str(uuid4())}


@dataclass
class Submissions:
    catalog: Catalog
    limits: SubmissionLimits
    topics: Topics
    store: TicketStore
    delivery: EventDelivery
    attachments: AttachmentStore
    idempotency: IdempotencyGate
    rate_limiter: RateLimiter
    rate_limit: int = 20
    rate_window: timedelta = timedelta(hours=1)
    duplicate_window: timedelta = timedelta(minutes=10)
    key_ttl: timedelta = timedelta(days=1)

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
        fingerprint = submission_fingerprint(
            account_id=account_id,
            category=form.category,
            subject=form.subject,
            description=form.description,
            attachment_hashes=[f.sha256 for f in files],
        )
        content_id = content_record_id(account_id, fingerprint)
        if idempotency_key is None and not self.duplicate_window:
            receipt = await self._create(
                new_plan(), form, files, account_id, correlation_id, follow_up_of
            )
            return Submitted(receipt)
        if idempotency_key is None:
            record_id, ttl = content_id, self.duplicate_window
        else:
            record_id, ttl = key_record_id(account_id, idempotency_key), self.key_ttl
        claim = await self.idempotency.claim(record_id, fingerprint, ttl, new_plan())
        if isinstance(claim, Replayed):
            log.info("submission answered from an earlier identical one")
            return Submitted(SubmissionReceipt.from_document(claim.response), replayed=True)
        try:
            receipt = await self._create(
                claim.plan, form, files, account_id, correlation_id, follow_up_of
            )
        except PublishFailedError:
            # Recorded, maybe published: the retry must carry out this same plan.
            await best_effort(self.idempotency.abandon(claim), "abandon idempotency claim")
            raise
        except BaseException:
            await best_effort(self.idempotency.release(claim), "release idempotency claim")
            raise
        await self._remember(claim, receipt, ttl, content_id, fingerprint)
        return Submitted(receipt)

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

    async def _remember(
        self,
        claim: Claimed,
        receipt: SubmissionReceipt,
        ttl: timedelta,
        content_id: str,
        fingerprint: str,
    ) -> None:
        # The ticket exists and Kafka has it: failing to store the answer is logged, not
        # reported (a retry then takes the claim over and finds the request recorded).
        response = receipt.to_document()
        await best_effort(self.idempotency.complete(claim, response, ttl), "store answer")
        if claim.record_id != content_id and self.duplicate_window:
            # A keyed request also counts for the duplicate check of keyless ones.
            await best_effort(
                self.idempotency.remember(content_id, fingerprint, response, self.duplicate_window),
                "remember content",
            )

    async def _create(
        self,
        plan: dict[str, str],
        form: SubmissionForm,
        files: Sequence[CheckedFile],
        account_id: str,
        correlation_id: str,
        follow_up_of: str | None,
    ) -> SubmissionReceipt:
        ticket_id = plan["ticket_id"]
        earlier = await self.store.get(ticket_id)
        if earlier is not None:
            return await self._finish_earlier(earlier)
        slot_id = uuid4().hex
        decision = await self.rate_limiter.acquire(account_id, slot_id)
        if not decision.allowed:
            raise RateLimitedError(
                "new requests", self.rate_limit, self.rate_window, decision.retry_after_seconds
            )
        refs: list[AttachmentRef] = []
        try:
            for file in files:
                refs.append(await self.attachments.save(ticket_id, account_id, file))
            event = build_submission(
                dataclasses.replace(form, attachments=tuple(refs)),
                account_id=account_id,
                ticket_id=ticket_id,
                event_id=UUID(plan["event_id"]),
                correlation_id=correlation_id,
                catalog=self.catalog,
                follow_up_of=follow_up_of,
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
            await best_effort(self.rate_limiter.release(account_id, slot_id), "release slot")
            raise
        if not added:  # a twin attempt of the same plan recorded it a moment before us
            await best_effort(
                self.attachments.delete(r.attachment_id for r in refs), "delete files"
            )
            await best_effort(self.rate_limiter.release(account_id, slot_id), "release slot")
            twin = await self.store.get(ticket_id)
            assert twin is not None
            return await self._finish_earlier(twin)
        # Recorded: from here on the request exists, whether Kafka confirms now or later.
        await self.delivery.publish(ticket_id, [(self.topics.submitted, event)])
        log.info(
            "ticket submitted",
            ticket_id=ticket_id,
            category=event.category,
            attachments=len(refs),
            required_documents_missing=event.required_documents_missing,
        )
        return receipt

    async def _finish_earlier(self, record: TicketRecord) -> SubmissionReceipt:
        """An earlier attempt of this submission recorded the request: publish what it may
        not have, and answer as it would have."""
        log.info("submission recorded by an earlier attempt", ticket_id=record.ticket_id)
        await self.delivery.publish_all(record)
        if record.receipt is None:
            return SubmissionReceipt(record.ticket_id, required_documents_missing=False)
        return SubmissionReceipt.from_document(record.receipt)
