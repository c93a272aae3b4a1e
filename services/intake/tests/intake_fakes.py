"""In-memory adapters for the intake's ports, with the same atomicity the MongoDB ones give
(one await per operation, so no other task runs inside it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import IdempotencyRecord, RecordState
from intake.domain.outbox import OutboxEntry, RecordChange, RecordedEvent
from intake.domain.ratelimit import RateDecision, Slot, take_slot
from intake.domain.recovery import RecoveryGrant
from intake.domain.submission_gate import GateRequest, GateState, abandoned, admit
from intake.ports import StoredAttachment, TicketRecord
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord
from shared.contracts.events import (
    AccountRecoveryRequested,
    AttachmentRef,
    Envelope,
    RequestContent,
    RoutingDecision,
    TicketRouted,
    TicketSubmitted,
    utcnow,
)
from shared.contracts.statuses import Status


@dataclass
class FakePublisher:
    events: list[tuple[str, Envelope | AccountRecoveryRequested]] = field(default_factory=list)
    fail: bool = False

    async def publish(self, topic: str, event: Envelope | AccountRecoveryRequested) -> None:
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("broker down")
        self.events.append((topic, event))


@dataclass
class FakeTicketStore:
    tickets: dict[str, TicketRecord] = field(default_factory=dict)
    due: dict[str, datetime] = field(default_factory=dict)  # outbox_due per request
    read_delay: float = 0.0  # widens the window between a read and the write that follows

    async def add(
        self,
        ticket: TicketSubmitted,
        entry: OutboxEntry,
        receipt: dict[str, Any],
        due_at: datetime,
    ) -> bool:
        await asyncio.sleep(0)
        if ticket.ticket_id in self.tickets:
            return False
        self.tickets[ticket.ticket_id] = TicketRecord(
            ticket.ticket_id,
            ticket.account_id,
            Status.NEW,
            events=(RecordedEvent.of(ticket),),
            outbox=(entry,),
            receipt=receipt,
            content=RequestContent(
                category=ticket.category,
                subject=ticket.subject,
                description=ticket.description,
                attachments=ticket.attachments,
                locale=ticket.locale,
                submitted_at=ticket.occurred_at,
            ),
        )
        self.due[ticket.ticket_id] = due_at
        return True

    async def get(self, ticket_id: str) -> TicketRecord | None:
        found = self.tickets.get(ticket_id)
        await asyncio.sleep(self.read_delay)
        return found

    async def append(
        self,
        ticket_id: str,
        events: Sequence[tuple[RecordedEvent, OutboxEntry]],
        change: RecordChange,
        due_at: datetime,
    ) -> bool:
        await asyncio.sleep(0)
        current = self.tickets.get(ticket_id)
        if current is None or current.recorded(events[0][0].event_id) is not None:
            return False
        updates: dict[str, Any] = {}
        if change.status is not None:
            if current.status is not change.status.from_status:
                return False
            updates["status"] = change.status.to_status
        for name in ("team", "assignee"):
            pair = getattr(change, name)
            if pair is not None:
                if getattr(current, name) != pair[0]:
                    return False
                updates[name] = pair[1]
        self.tickets[ticket_id] = replace(
            current,
            **updates,
            events=(*current.events, *(r for r, _ in events)),
            outbox=(*current.outbox, *(e for _, e in events)),
        )
        self.due[ticket_id] = min(due_at, self.due.get(ticket_id, due_at))
        return True

    async def record_decisions(self, decisions: Sequence[TicketRouted]) -> None:
        for routed in decisions:
            current = self.tickets.get(routed.ticket_id)
            if current is None:
                continue
            decision = RoutingDecision.model_validate(
                routed.model_dump(include=set(RoutingDecision.model_fields))
            )
            self.tickets[routed.ticket_id] = replace(
                current,
                decision=current.decision or decision,
                team=current.team or routed.team,
                routed_at=current.routed_at or routed.occurred_at,
            )

    async def delivered(self, deliveries: Mapping[str, Sequence[str]]) -> None:
        await asyncio.sleep(0)
        for ticket_id, event_ids in deliveries.items():
            current = self.tickets[ticket_id]
            outbox = tuple(e for e in current.outbox if e.event_id not in event_ids)
            self.tickets[ticket_id] = replace(current, outbox=outbox)
            if not outbox:
                self.due.pop(ticket_id, None)

    async def lease_due(self, now: datetime, until: datetime, limit: int) -> list[TicketRecord]:
        leased = [t for t, at in self.due.items() if at <= now][:limit]
        for ticket_id in leased:
            self.due[ticket_id] = until
        return [self.tickets[t] for t in leased]


@dataclass
class FakeAttachmentStore:
    files: dict[str, tuple[str, bytes, AttachmentRef]] = field(default_factory=dict)

    async def save(self, ticket_id: str, account_id: str, file: CheckedFile) -> AttachmentRef:
        file.content.seek(0)
        ref = AttachmentRef(
            attachment_id=f"att-{len(self.files)}",
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
        )
        self.files[ref.attachment_id] = (ticket_id, file.content.read(), ref)
        return ref

    async def delete(self, attachment_ids: Iterable[str]) -> None:
        for attachment_id in attachment_ids:
            self.files.pop(attachment_id, None)

    async def open(self, ticket_id: str, attachment_id: str) -> StoredAttachment | None:
        found = self.files.get(attachment_id)
        if found is None or found[0] != ticket_id:
            return None

        async def chunks() -> AsyncIterator[bytes]:
            yield found[1]

        return StoredAttachment(ref=found[2], chunks=chunks())


@dataclass
class FakeIdempotencyStore:
    records: dict[str, IdempotencyRecord] = field(default_factory=dict)

    async def insert(self, record: IdempotencyRecord) -> bool:
        await asyncio.sleep(0)
        if record.record_id in self.records:
            return False
        self.records[record.record_id] = record
        return True

    async def get(self, record_id: str) -> IdempotencyRecord | None:
        return self.records.get(record_id)

    async def replace(self, record_id: str, old_token: str, record: IdempotencyRecord) -> bool:
        current = self.records.get(record_id)
        if current is None or current.token != old_token:
            return False
        self.records[record_id] = record
        return True

    async def complete(
        self, record_id: str, token: str, response: dict[str, Any], expires_at: datetime
    ) -> bool:
        current = self.records.get(record_id)
        if current is None or current.token != token:
            return False
        self.records[record_id] = IdempotencyRecord(
            record_id=record_id,
            fingerprint=current.fingerprint,
            token=token,
            state=RecordState.DONE,
            lease_until=current.lease_until,
            expires_at=expires_at,
            response=response,
            plan=current.plan,
        )
        return True

    async def release(self, record_id: str, token: str) -> None:
        current = self.records.get(record_id)
        if current is not None and current.token == token:
            del self.records[record_id]

    async def abandon(self, record_id: str, token: str, lease_until: datetime) -> None:
        current = self.records.get(record_id)
        if current is not None and current.token == token:
            self.records[record_id] = replace(current, lease_until=lease_until)


@dataclass
class FakeRateLimiter:
    limit: int = 20
    window: timedelta = timedelta(hours=1)
    slots: dict[str, list[Slot]] = field(default_factory=dict)

    async def acquire(self, account_id: str, slot_id: str) -> RateDecision:
        decision = take_slot(
            self.slots.get(account_id, []),
            now=utcnow(),
            limit=self.limit,
            window=self.window,
            slot_id=slot_id,
        )
        if decision.allowed:
            self.slots[account_id] = list(decision.slots)
        return decision

    async def release(self, account_id: str, slot_id: str) -> None:
        self.slots[account_id] = [s for s in self.slots.get(account_id, []) if s.slot_id != slot_id]


@dataclass
class FakeSubmissionGate:
    """The pure `admit` over an in-memory state: what the MongoDB pipeline does in one write."""

    states: dict[str, GateState] = field(default_factory=dict)

    async def admit(self, request: GateRequest) -> GateState:
        await asyncio.sleep(0)
        state = admit(self.states.get(request.account_id, GateState()), request)
        self.states[request.account_id] = state
        return state

    async def abandon(self, account_id: str, token: str) -> None:
        self.states[account_id] = abandoned(self.states.get(account_id, GateState()), token)

    def slots(self, account_id: str) -> int:
        return len(self.states.get(account_id, GateState()).slots)


@dataclass
class FakeDirectory:
    accounts: dict[str, AccountRecord] = field(
        default_factory=lambda: {a.account_id: a for a in DEMO_ACCOUNTS}
    )

    async def get(self, account_id: str) -> AccountRecord | None:
        return self.accounts.get(account_id)

    async def find_by_email(self, email: str) -> AccountRecord | None:
        return next((a for a in self.accounts.values() if a.email == email), None)


@dataclass
class FakeRecoveryStore:
    grants: dict[str, RecoveryGrant] = field(default_factory=dict)

    async def add(self, grant: RecoveryGrant) -> None:
        self.grants[grant.recovery_id] = grant

    async def get(self, recovery_id: str) -> RecoveryGrant | None:
        return self.grants.get(recovery_id)

    async def claim(self, recovery_id: str, now: datetime, lease: timedelta) -> bool:
        await asyncio.sleep(0)
        grant = self.grants.get(recovery_id)
        if grant is None or grant.ticket_id is not None or grant.expires_at <= now:
            return False
        if grant.claimed_at is not None and grant.claimed_at > now - lease:
            return False
        self.grants[recovery_id] = replace(grant, claimed_at=now)
        return True

    async def complete(self, recovery_id: str, ticket_id: str) -> None:
        self.grants[recovery_id] = replace(self.grants[recovery_id], ticket_id=ticket_id)

    async def release(self, recovery_id: str) -> None:
        grant = self.grants[recovery_id]
        if grant.ticket_id is None:
            self.grants[recovery_id] = replace(grant, claimed_at=None)
