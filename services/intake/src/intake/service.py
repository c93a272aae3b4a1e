"""Intake use cases: validate, record, publish; nothing half-done when Kafka is away.

Every use case publishes last and undoes what it recorded when the publish fails (ticket,
stored files, rate-limit slot, idempotency claim, status), so a 503 leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from intake.domain.access import may_read_ticket_files
from intake.domain.activity import (
    MessageLimits,
    after_agent_reply,
    after_customer_message,
    after_information_request,
    after_status_request,
    check_message,
)
from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import (
    content_record_id,
    key_record_id,
    submission_fingerprint,
)
from intake.domain.submission import (
    FieldError,
    SubmissionForm,
    SubmissionLimits,
    build_submission,
    check_form,
)
from intake.idempotency import Claimed, IdempotencyGate, Replayed
from intake.ports import (
    AttachmentStore,
    EventPublisher,
    RateLimiter,
    StoredAttachment,
    TicketRecord,
    TicketStore,
)
from shared.contracts.catalog import Catalog
from shared.contracts.events import (
    AgentReplied,
    AttachmentRef,
    CommentAdded,
    DocumentsUploaded,
    Envelope,
    InformationRequested,
    StatusChanged,
    StatusTransition,
    new_ticket_id,
    utcnow,
)
from shared.contracts.statuses import Status
from shared.contracts.topics import Topics
from shared.logging import get_logger

log = get_logger(__name__)

# Compare-and-set retries when another action changed the status between our read and write.
STATUS_UPDATE_ATTEMPTS = 5


class InvalidSubmissionError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


class PublishFailedError(RuntimeError):
    """The broker did not acknowledge in time; nothing was kept."""


class RateLimitedError(RuntimeError):
    def __init__(self, limit: int, window: timedelta, retry_after_seconds: int) -> None:
        minutes = int(window.total_seconds() // 60)
        super().__init__(
            f"at most {limit} new requests per {minutes} minutes; the next one is possible in"
            f" {retry_after_seconds} seconds"
        )
        self.retry_after_seconds = retry_after_seconds


class TicketNotFoundError(LookupError):
    """Unknown, or not the caller's: the two read the same, so ids cannot be probed."""


class AttachmentNotFoundError(LookupError):
    pass


class ConcurrentUpdateError(RuntimeError):
    """The status kept changing under us; the caller may retry."""


@dataclass(frozen=True, slots=True)
class SubmissionReceipt:
    ticket_id: str
    required_documents_missing: bool
    attachments: tuple[AttachmentRef, ...] = ()

    def to_document(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "required_documents_missing": self.required_documents_missing,
            "attachments": [a.model_dump(mode="json") for a in self.attachments],
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> SubmissionReceipt:
        return cls(
            ticket_id=doc["ticket_id"],
            required_documents_missing=doc["required_documents_missing"],
            attachments=tuple(AttachmentRef.model_validate(a) for a in doc["attachments"]),
        )


@dataclass(frozen=True, slots=True)
class Submitted:
    receipt: SubmissionReceipt
    replayed: bool = False  # the answer to an earlier, identical request


@dataclass(frozen=True, slots=True)
class ActivityReceipt:
    ticket_id: str
    event_id: UUID
    event_type: str
    status: Status
    status_change: StatusTransition | None
    attachments: tuple[AttachmentRef, ...] = ()


async def _best_effort(action: Awaitable[Any], what: str) -> None:
    """Undo steps run after a failure; one failing must not hide the original error."""
    try:
        await action
    except Exception as exc:
        log.error("clean-up failed", step=what, error=repr(exc))


@dataclass
class IntakeService:
    catalog: Catalog
    limits: SubmissionLimits
    topics: Topics
    store: TicketStore
    publisher: EventPublisher
    attachments: AttachmentStore
    idempotency: IdempotencyGate
    rate_limiter: RateLimiter
    message_limits: MessageLimits = dataclasses.field(default_factory=MessageLimits)
    rate_limit: int = 20
    rate_window: timedelta = timedelta(hours=1)
    duplicate_window: timedelta = timedelta(minutes=10)
    key_ttl: timedelta = timedelta(days=1)
    publish_timeout_seconds: float = 5.0
    now: Callable[[], datetime] = utcnow

    # --- submission -----------------------------------------------------------------------

    async def submit(
        self,
        form: SubmissionForm,
        *,
        account_id: str,
        correlation_id: str,
        files: Sequence[CheckedFile] = (),
        idempotency_key: str | None = None,
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
            return Submitted(await self._create(form, files, account_id, correlation_id))
        if idempotency_key is None:
            record_id, ttl = content_id, self.duplicate_window
        else:
            record_id, ttl = key_record_id(account_id, idempotency_key), self.key_ttl
        claim = await self.idempotency.claim(record_id, fingerprint, ttl)
        if isinstance(claim, Replayed):
            log.info("submission answered from an earlier identical one")
            return Submitted(SubmissionReceipt.from_document(claim.response), replayed=True)
        try:
            receipt = await self._create(form, files, account_id, correlation_id)
        except BaseException:
            await _best_effort(self.idempotency.release(claim), "release idempotency claim")
            raise
        await self._remember(claim, receipt, ttl, content_id, fingerprint)
        return Submitted(receipt)

    async def _remember(
        self,
        claim: Claimed,
        receipt: SubmissionReceipt,
        ttl: timedelta,
        content_id: str,
        fingerprint: str,
    ) -> None:
        # The ticket exists and Kafka has it: failing to store the answer is logged, not
        # reported (a retry within the lease then waits, after it creates anew: acceptable).
        response = receipt.to_document()
        await _best_effort(self.idempotency.complete(claim, response, ttl), "store answer")
        if claim.record_id != content_id and self.duplicate_window:
            # A keyed request also counts for the duplicate check of keyless ones.
            await _best_effort(
                self.idempotency.remember(content_id, fingerprint, response, self.duplicate_window),
                "remember content",
            )

    async def _create(
        self,
        form: SubmissionForm,
        files: Sequence[CheckedFile],
        account_id: str,
        correlation_id: str,
    ) -> SubmissionReceipt:
        slot_id = uuid4().hex
        decision = await self.rate_limiter.acquire(account_id, slot_id)
        if not decision.allowed:
            raise RateLimitedError(self.rate_limit, self.rate_window, decision.retry_after_seconds)
        ticket_id = new_ticket_id()
        refs: list[AttachmentRef] = []
        recorded = False
        try:
            for file in files:
                refs.append(await self.attachments.save(ticket_id, account_id, file))
            event = build_submission(
                dataclasses.replace(form, attachments=tuple(refs)),
                account_id=account_id,
                ticket_id=ticket_id,
                correlation_id=correlation_id,
                catalog=self.catalog,
            )
            await self.store.add(event)
            recorded = True
            await self._publish(self.topics.submitted, event)
        except BaseException:
            if recorded:
                await _best_effort(self.store.remove(ticket_id), "remove ticket")
            if refs:
                await _best_effort(
                    self.attachments.delete(r.attachment_id for r in refs), "delete files"
                )
            await _best_effort(self.rate_limiter.release(account_id, slot_id), "release slot")
            raise
        log.info(
            "ticket submitted",
            ticket_id=ticket_id,
            category=event.category,
            attachments=len(refs),
            required_documents_missing=event.required_documents_missing,
        )
        return SubmissionReceipt(ticket_id, event.required_documents_missing, tuple(refs))

    async def _publish(self, topic: str, event: Envelope) -> None:
        # Bounded: a dead broker must give the client a prompt 503, not a hung request.
        try:
            await asyncio.wait_for(
                self.publisher.publish(topic, event), self.publish_timeout_seconds
            )
        except Exception as exc:
            log.warning("publish failed", topic=topic, error=repr(exc))
            raise PublishFailedError(str(exc) or type(exc).__name__) from exc

    # --- attachments ----------------------------------------------------------------------

    async def open_attachment(
        self, ticket_id: str, attachment_id: str, *, reader_id: str, role: str
    ) -> StoredAttachment:
        ticket = await self.store.get(ticket_id)
        if ticket is None or not may_read_ticket_files(role, reader_id, ticket.account_id):
            raise AttachmentNotFoundError(attachment_id)
        stored = await self.attachments.open(ticket_id, attachment_id)
        if stored is None:
            raise AttachmentNotFoundError(attachment_id)
        return stored

    # --- customers' actions ---------------------------------------------------------------

    async def comment(
        self, ticket_id: str, body: str, *, account_id: str, correlation_id: str
    ) -> ActivityReceipt:
        self._check_message(body, "body")
        return await self._act(
            ticket_id,
            owner=account_id,
            decide=after_customer_message,
            make_event=lambda ticket, change: CommentAdded(
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                body=body.strip(),
                status_change=change,
            ),
        )

    async def upload_documents(
        self,
        ticket_id: str,
        files: Sequence[CheckedFile],
        *,
        account_id: str,
        correlation_id: str,
    ) -> ActivityReceipt:
        if not files:
            raise InvalidSubmissionError([FieldError("attachments", "at least one file")])
        ticket = await self._ticket(ticket_id, owner=account_id)
        after_customer_message(ticket.status)  # a closed request: refuse before storing
        refs: list[AttachmentRef] = []
        try:
            for file in files:
                refs.append(await self.attachments.save(ticket_id, account_id, file))
            receipt = await self._act(
                ticket_id,
                owner=account_id,
                decide=after_customer_message,
                make_event=lambda ticket, change: DocumentsUploaded(
                    ticket_id=ticket.ticket_id,
                    account_id=ticket.account_id,
                    correlation_id=correlation_id,
                    attachments=tuple(refs),
                    status_change=change,
                ),
            )
        except BaseException:
            if refs:
                await _best_effort(
                    self.attachments.delete(r.attachment_id for r in refs), "delete files"
                )
            raise
        return dataclasses.replace(receipt, attachments=tuple(refs))

    # --- agents' actions ------------------------------------------------------------------

    async def reply(
        self,
        ticket_id: str,
        body: str,
        status: Status | None,
        *,
        agent_id: str,
        correlation_id: str,
    ) -> ActivityReceipt:
        self._check_message(body, "body")
        return await self._act(
            ticket_id,
            owner=None,
            decide=lambda current: after_agent_reply(current, status),
            make_event=lambda ticket, change: AgentReplied(
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                agent_id=agent_id,
                body=body.strip(),
                status_change=change,
            ),
        )

    async def change_status(
        self,
        ticket_id: str,
        status: Status,
        note: str | None,
        *,
        agent_id: str,
        correlation_id: str,
    ) -> ActivityReceipt:
        if note is not None:
            self._check_message(note, "note")

        def make_event(ticket: TicketRecord, change: StatusTransition | None) -> Envelope:
            assert change is not None  # after_status_request always moves
            return StatusChanged(
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                actor_id=agent_id,
                actor_role="agent",
                status_change=change,
                note=note.strip() if note else None,
            )

        return await self._act(
            ticket_id,
            owner=None,
            decide=lambda current: after_status_request(current, status),
            make_event=make_event,
        )

    async def request_information(
        self,
        ticket_id: str,
        body: str,
        documents: Sequence[str],
        *,
        agent_id: str,
        correlation_id: str,
    ) -> ActivityReceipt:
        self._check_message(body, "body")
        return await self._act(
            ticket_id,
            owner=None,
            decide=after_information_request,
            make_event=lambda ticket, change: InformationRequested(
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                agent_id=agent_id,
                body=body.strip(),
                documents_requested=tuple(d.strip() for d in documents if d.strip()),
                status_change=change,
            ),
        )

    # --- shared steps ---------------------------------------------------------------------

    def _check_message(self, text: str, field: str) -> None:
        errors = check_message(text, self.message_limits, field)
        if errors:
            raise InvalidSubmissionError(errors)

    async def _ticket(self, ticket_id: str, *, owner: str | None) -> TicketRecord:
        ticket = await self.store.get(ticket_id)
        if ticket is None or (owner is not None and ticket.account_id != owner):
            raise TicketNotFoundError(ticket_id)
        return ticket

    async def _act(
        self,
        ticket_id: str,
        *,
        owner: str | None,
        decide: Callable[[Status], StatusTransition | None],
        make_event: Callable[[TicketRecord, StatusTransition | None], Envelope],
    ) -> ActivityReceipt:
        """Decide on the status read, write it only if it is still that status (so of two
        concurrent actions only one passes; the other decides again on the new status), then
        publish; a failed publish puts the status back."""
        for _ in range(STATUS_UPDATE_ATTEMPTS):
            ticket = await self._ticket(ticket_id, owner=owner)
            change = decide(ticket.status)
            if change is not None and not await self.store.set_status(
                ticket_id, change.from_status, change.to_status
            ):
                continue
            event = make_event(ticket, change)
            try:
                await self._publish(self.topics.activity, event)
            except PublishFailedError:
                if change is not None:
                    await _best_effort(
                        self.store.set_status(ticket_id, change.to_status, change.from_status),
                        "restore status",
                    )
                raise
            log.info(
                "activity recorded",
                ticket_id=ticket_id,
                event_type=event.event_type,
                status_from=change.from_status.value if change else None,
                status_to=change.to_status.value if change else None,
            )
            return ActivityReceipt(
                ticket_id=ticket_id,
                event_id=event.event_id,
                event_type=event.event_type,
                status=change.to_status if change else ticket.status,
                status_change=change,
            )
        raise ConcurrentUpdateError(f"the status of {ticket_id} kept changing; retry")
