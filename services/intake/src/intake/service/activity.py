"""What every action on an existing request shares: find the request (its owner only, for a
customer), decide the status change on the status read, record the event with that change in
one atomic write, publish it.

An action with an Idempotency-Key is done once: the event id is fixed when the key is first
claimed, the record remembers the events recorded against it, so a retry (after a crash, a
503, or a lost answer) recognises its own event and repeats the answer instead of adding a
second comment or reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

from intake.domain.activity import MessageLimits, check_message
from intake.domain.idempotency import action_fingerprint, key_record_id
from intake.domain.outbox import OutboxEntry, RecordChange, RecordedEvent
from intake.ports import TicketRecord, TicketStore
from intake.service.common import best_effort
from intake.service.delivery import EventDelivery
from intake.service.errors import (
    ConcurrentUpdateError,
    InvalidSubmissionError,
    PublishFailedError,
    TicketNotFoundError,
)
from intake.service.idempotency import IdempotencyGate, Replayed
from intake.service.receipts import ActivityReceipt
from shared.contracts.events import AttachmentRef, Envelope, StatusTransition
from shared.contracts.statuses import Status
from shared.contracts.topics import Topics
from shared.logging import get_logger

log = get_logger(__name__)

# Compare-and-set retries when another action changed the status between our read and write.
STATUS_UPDATE_ATTEMPTS = 5

Decide = Callable[[Status], StatusTransition | None]
MakeEvent = Callable[[TicketRecord, StatusTransition | None, UUID], Envelope]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action does to a request: its events, the first of which is the action itself,
    and the change of the intake's record they make."""

    events: tuple[Envelope, ...]
    change: RecordChange


Plan = Callable[[TicketRecord, UUID], Outcome]


def status_plan(decide: Decide, make_event: MakeEvent) -> Plan:
    """The common plan: decide the status change on the status read, announce it in one event."""

    def plan(ticket: TicketRecord, event_id: UUID) -> Outcome:
        change = decide(ticket.status)
        return Outcome((make_event(ticket, change, event_id),), RecordChange(status=change))

    return plan


@dataclass(frozen=True, slots=True)
class Action:
    """One action on one request, as the use case describes it."""

    ticket_id: str
    name: str  # comment, documents, reply, status, information-request, ...
    actor_id: str
    owner: str | None  # the account that must own the request (a customer); None: an agent
    plan: Plan
    content: tuple[str, ...] = ()  # what makes two attempts the same action
    idempotency_key: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    # Set when the action's identity follows from something else (an e-mail's Message-ID, the
    # follow-up it opened): recording it again is recording it once, with no claim needed.
    event_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    receipt: ActivityReceipt
    fresh: bool  # recorded by this attempt (False: an earlier attempt had)


@dataclass
class TicketActivity:
    topics: Topics
    store: TicketStore
    delivery: EventDelivery
    idempotency: IdempotencyGate
    message_limits: MessageLimits
    key_ttl: timedelta = timedelta(days=1)

    def check_message(self, text: str, field: str) -> None:
        errors = check_message(text, self.message_limits, field)
        if errors:
            raise InvalidSubmissionError(errors)

    async def ticket(self, ticket_id: str, *, owner: str | None) -> TicketRecord:
        ticket = await self.store.get(ticket_id)
        if ticket is None or (owner is not None and ticket.account_id != owner):
            raise TicketNotFoundError(ticket_id)
        return ticket

    async def act(self, action: Action) -> Recorded:
        """Record and publish the action's event, once per Idempotency-Key (or event id)."""
        if action.event_id is not None:
            return await self._record(action, action.event_id)
        if action.idempotency_key is None:
            return await self._record(action, uuid4())
        claim = await self.idempotency.claim(
            key_record_id(action.actor_id, action.idempotency_key),
            action_fingerprint(action.name, action.ticket_id, *action.content),
            self.key_ttl,
            {"event_id": str(uuid4())},
        )
        if isinstance(claim, Replayed):
            return Recorded(ActivityReceipt.from_document(claim.response), fresh=False)
        try:
            recorded = await self._record(action, UUID(claim.plan["event_id"]))
        except PublishFailedError:
            await best_effort(self.idempotency.abandon(claim), "abandon idempotency claim")
            raise
        except BaseException:
            await best_effort(self.idempotency.release(claim), "release idempotency claim")
            raise
        answer = recorded.receipt.to_document()
        await best_effort(self.idempotency.complete(claim, answer, self.key_ttl), "store answer")
        return recorded

    async def _record(self, action: Action, event_id: UUID) -> Recorded:
        """Decide on the record read, write only if what the decision read still holds (so of
        two concurrent actions only one passes; the other decides again on the new record)."""
        for _ in range(STATUS_UPDATE_ATTEMPTS):
            ticket = await self.ticket(action.ticket_id, owner=action.owner)
            earlier = ticket.recorded(str(event_id))
            if earlier is not None:  # an earlier attempt of this same action recorded it
                await self.delivery.publish_all(ticket)
                return Recorded(ActivityReceipt.of(ticket.ticket_id, earlier, ticket.status), False)
            outcome = action.plan(ticket, event_id)
            now = self.delivery.now()
            queued = [
                (RecordedEvent.of(e), OutboxEntry.of(self.topics.activity, e, now))
                for e in outcome.events
            ]
            if not await self.store.append(
                ticket.ticket_id, queued, outcome.change, self.delivery.due_at()
            ):
                continue
            # What an earlier, unconfirmed action left in the outbox goes first: in order.
            await self.delivery.publish_pending(
                ticket, then=[(self.topics.activity, e) for e in outcome.events]
            )
            change = outcome.change.status
            log.info(
                "activity recorded",
                ticket_id=ticket.ticket_id,
                event_type=outcome.events[0].event_type,
                status_from=change.from_status.value if change else None,
                status_to=change.to_status.value if change else None,
            )
            status = change.to_status if change else ticket.status
            receipt = ActivityReceipt.of(ticket.ticket_id, queued[0][0], status, action.attachments)
            return Recorded(receipt, fresh=True)
        raise ConcurrentUpdateError(f"{action.ticket_id} kept changing under this action; retry")


def attachment_hashes(refs: Sequence[AttachmentRef]) -> tuple[str, ...]:
    return tuple(sorted(r.sha256 for r in refs))
