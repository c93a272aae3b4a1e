"""Agents' actions on any request: a public reply (optionally moving the status on), an
explicit status change, asking the customer for information or documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from intake.domain.activity import (
    after_agent_reply,
    after_information_request,
    after_status_request,
)
from intake.ports import TicketRecord
from intake.service.activity import Action, Decide, MakeEvent, TicketActivity
from intake.service.receipts import ActivityReceipt
from shared.contracts.events import (
    AgentReplied,
    InformationRequested,
    StatusChanged,
    StatusTransition,
)
from shared.contracts.statuses import Status


@dataclass
class AgentActions:
    activity: TicketActivity

    async def reply(
        self,
        ticket_id: str,
        body: str,
        status: Status | None,
        *,
        agent_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> ActivityReceipt:
        self.activity.check_message(body, "body")
        text = body.strip()

        def make_event(
            ticket: TicketRecord, change: StatusTransition | None, event_id: UUID
        ) -> AgentReplied:
            return AgentReplied(
                event_id=event_id,
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                agent_id=agent_id,
                body=text,
                status_change=change,
            )

        return await self._act(
            ticket_id,
            "reply",
            agent_id,
            decide=lambda current: after_agent_reply(current, status),
            make_event=make_event,
            content=(text, status.value if status else ""),
            idempotency_key=idempotency_key,
        )

    async def change_status(
        self,
        ticket_id: str,
        status: Status,
        note: str | None,
        *,
        agent_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> ActivityReceipt:
        if note is not None:
            self.activity.check_message(note, "note")

        def make_event(
            ticket: TicketRecord, change: StatusTransition | None, event_id: UUID
        ) -> StatusChanged:
            assert change is not None  # after_status_request always moves
            return StatusChanged(
                event_id=event_id,
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
            "status",
            agent_id,
            decide=lambda current: after_status_request(current, status),
            make_event=make_event,
            content=(status.value, note or ""),
            idempotency_key=idempotency_key,
        )

    async def request_information(
        self,
        ticket_id: str,
        body: str,
        documents: Sequence[str],
        *,
        agent_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> ActivityReceipt:
        self.activity.check_message(body, "body")
        text = body.strip()
        wanted = tuple(d.strip() for d in documents if d.strip())

        def make_event(
            ticket: TicketRecord, change: StatusTransition | None, event_id: UUID
        ) -> InformationRequested:
            return InformationRequested(
                event_id=event_id,
                ticket_id=ticket.ticket_id,
                account_id=ticket.account_id,
                correlation_id=correlation_id,
                agent_id=agent_id,
                body=text,
                documents_requested=wanted,
                status_change=change,
            )

        return await self._act(
            ticket_id,
            "information-request",
            agent_id,
            decide=after_information_request,
            make_event=make_event,
            content=(text, *wanted),
            idempotency_key=idempotency_key,
        )

    async def _act(
        self,
        ticket_id: str,
        name: str,
        agent_id: str,
        *,
        decide: Decide,
        make_event: MakeEvent,
        content: tuple[str, ...],
        idempotency_key: str | None,
    ) -> ActivityReceipt:
        action = Action(
            ticket_id=ticket_id,
            name=name,
            actor_id=agent_id,
            owner=None,
            decide=decide,
            make_event=make_event,
            content=content,
            idempotency_key=idempotency_key,
        )
        return (await self.activity.act(action)).receipt
