"""Customers' actions on their own requests: a comment, requested documents. Either re-opens
a request that waited on the customer or was solved; a customer account may act only so
often (a per-account sliding window, shared by every intake replica)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from uuid import UUID, uuid4

from intake.domain.activity import after_customer_message
from intake.domain.attachments import CheckedFile
from intake.domain.outbox import RecordChange
from intake.domain.submission import FieldError
from intake.ports import AttachmentStore, RateLimiter, TicketRecord
from intake.service.activity import Action, Outcome, Recorded, TicketActivity, status_plan
from intake.service.common import best_effort
from intake.service.errors import InvalidSubmissionError, PublishFailedError, RateLimitedError
from intake.service.receipts import ActivityReceipt
from intake.service.submission import Submissions
from shared.contracts.events import (
    AttachmentRef,
    Channel,
    CommentAdded,
    DocumentsUploaded,
    FollowUpOpened,
    StatusTransition,
    derived_event_id,
)
from shared.contracts.statuses import Status


@dataclass
class CustomerActions:
    activity: TicketActivity
    attachments: AttachmentStore
    rate_limiter: RateLimiter
    submissions: Submissions
    rate_limit: int = 60
    rate_window: timedelta = timedelta(minutes=10)

    async def comment(
        self,
        ticket_id: str,
        body: str,
        *,
        account_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
        source: Channel = "web",
        event_id: UUID | None = None,
    ) -> ActivityReceipt:
        self.activity.check_message(body, "body")
        text = body.strip()
        ticket = await self.activity.ticket(ticket_id, owner=account_id)
        if ticket.status is Status.CLOSED:  # closed is final: the message opens a follow-up
            return await self._follow_up(ticket, text, correlation_id, idempotency_key)

        def make_event(
            ticket: TicketRecord, change: StatusTransition | None, event_id: UUID
        ) -> CommentAdded:
            return CommentAdded(
                event_id=event_id,
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                body=text,
                status_change=change,
                source=source,
            )

        action = Action(
            ticket_id=ticket_id,
            name="comment",
            actor_id=account_id,
            owner=account_id,
            plan=status_plan(after_customer_message, make_event),
            content=(text,),
            idempotency_key=idempotency_key,
            event_id=event_id,
        )
        return (await self._limited(action)).receipt

    async def upload_documents(
        self,
        ticket_id: str,
        files: Sequence[CheckedFile],
        *,
        account_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
        source: Channel = "web",
        event_id: UUID | None = None,
    ) -> ActivityReceipt:
        if not files:
            raise InvalidSubmissionError([FieldError("attachments", "at least one file")])
        ticket = await self.activity.ticket(ticket_id, owner=account_id)
        after_customer_message(ticket.status)  # a closed request: refuse before storing
        refs: list[AttachmentRef] = []

        def make_event(
            ticket: TicketRecord, change: StatusTransition | None, event_id: UUID
        ) -> DocumentsUploaded:
            return DocumentsUploaded(
                event_id=event_id,
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                attachments=tuple(refs),
                status_change=change,
                source=source,
            )

        try:
            for file in files:
                refs.append(await self.attachments.save(ticket_id, account_id, file))
            recorded = await self._limited(
                Action(
                    ticket_id=ticket_id,
                    name="documents",
                    actor_id=account_id,
                    owner=account_id,
                    plan=status_plan(after_customer_message, make_event),
                    content=tuple(sorted(f.sha256 for f in files)),
                    idempotency_key=idempotency_key,
                    attachments=tuple(refs),
                    event_id=event_id,
                )
            )
        except PublishFailedError:
            raise  # recorded: the event names these files, they stay
        except BaseException:
            await self._delete(refs)
            raise
        if not recorded.fresh:  # an earlier attempt stored its own copies of these files
            await self._delete(refs)
        return recorded.receipt

    async def _follow_up(
        self,
        closed: TicketRecord,
        text: str,
        correlation_id: str,
        idempotency_key: str | None,
    ) -> ActivityReceipt:
        """A new request with the customer's message, linked to the closed one (as Zendesk
        does); the closed one records the link. A retry with the same key opens none more."""
        opened = await self.submissions.follow_up(
            closed, text, correlation_id=correlation_id, idempotency_key=idempotency_key
        )
        follow_up_id = opened.receipt.ticket_id

        def plan(ticket: TicketRecord, event_id: UUID) -> Outcome:
            link = FollowUpOpened(
                event_id=event_id,
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                follow_up_id=follow_up_id,
            )
            return Outcome((link,), RecordChange())

        # The link's id follows from the follow-up's: recording it again is recording it once.
        recorded = await self.activity.act(
            Action(
                ticket_id=closed.ticket_id,
                name="follow-up",
                actor_id=closed.account_id,
                owner=closed.account_id,
                plan=plan,
                event_id=derived_event_id(follow_up_id, "follow-up-of"),
            )
        )
        return replace(recorded.receipt, follow_up_id=follow_up_id, replayed=opened.replayed)

    async def _limited(self, action: Action) -> Recorded:
        """The action under the account's rate limit; a slot is given back when nothing was
        recorded (refused, or answered from an earlier attempt)."""
        slot_id = uuid4().hex
        decision = await self.rate_limiter.acquire(action.actor_id, slot_id)
        if not decision.allowed:
            raise RateLimitedError(
                "comments and uploads",
                self.rate_limit,
                self.rate_window,
                decision.retry_after_seconds,
            )
        try:
            recorded = await self.activity.act(action)
        except PublishFailedError:
            raise  # recorded: the slot was used
        except BaseException:
            await self._release(action.actor_id, slot_id)
            raise
        if not recorded.fresh:
            await self._release(action.actor_id, slot_id)
        return recorded

    async def _release(self, account_id: str, slot_id: str) -> None:
        await best_effort(self.rate_limiter.release(account_id, slot_id), "release slot")

    async def _delete(self, refs: Sequence[AttachmentRef]) -> None:
        if refs:
            await best_effort(self.attachments.delete(r.attachment_id for r in refs), "delete")
