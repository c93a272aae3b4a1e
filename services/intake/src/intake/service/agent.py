"""Agents' actions on any request: a public reply (optionally moving the status on), an
explicit status change, asking the customer for information or documents, an internal note,
taking or giving the request to an agent of its team, and moving it to another team."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from intake.domain.activity import (
    after_agent_reply,
    after_information_request,
    after_status_request,
)
from intake.domain.outbox import RecordChange
from intake.domain.teams import check_assignee, check_transfer
from intake.ports import AccountDirectory, TicketRecord
from intake.service.activity import Action, Outcome, Plan, TicketActivity, status_plan
from intake.service.receipts import ActivityReceipt
from shared.contracts.catalog import Catalog
from shared.contracts.events import (
    AgentReplied,
    AssigneeChanged,
    Envelope,
    InformationRequested,
    NoteAdded,
    StatusChanged,
    StatusTransition,
    TicketTransferred,
    Transfer,
    derived_event_id,
)
from shared.contracts.statuses import Status


class AgentObserver(Protocol):
    """What the agents' work says about routing, for metrics: was the first answer, and the
    solution, given by the team the request was first placed with?"""

    def first_reply(self, seconds: float, transferred: bool) -> None: ...

    def solved(self, transferred: bool) -> None: ...


class _Unobserved:
    def first_reply(self, seconds: float, transferred: bool) -> None:
        pass

    def solved(self, transferred: bool) -> None:
        pass


@dataclass
class AgentActions:
    activity: TicketActivity
    catalog: Catalog
    directory: AccountDirectory
    observer: AgentObserver = field(default_factory=_Unobserved)

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
                **_envelope(ticket, correlation_id),
                agent_id=agent_id,
                body=text,
                status_change=change,
            )

        plan = status_plan(lambda current: after_agent_reply(current, status), make_event)
        content = (text, status.value if status else "")
        return await self._act(
            ticket_id, "reply", agent_id, plan, content, idempotency_key, answers=True
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
        """The move, and the agent's note on it as an internal note (never e-mailed)."""
        if note is not None:
            self.activity.check_message(note, "note")
        text = note.strip() if note else None

        def plan(ticket: TicketRecord, event_id: UUID) -> Outcome:
            change = after_status_request(ticket.status, status)
            events: list[Envelope] = [
                StatusChanged(
                    event_id=event_id,
                    **_envelope(ticket, correlation_id),
                    actor_id=agent_id,
                    actor_role="agent",
                    status_change=change,
                )
            ]
            if text:
                events.append(
                    NoteAdded(
                        event_id=derived_event_id(event_id, "note"),
                        **_envelope(ticket, correlation_id),
                        agent_id=agent_id,
                        body=text,
                    )
                )
            return Outcome(tuple(events), RecordChange(status=change))

        content = (status.value, text or "")
        return await self._act(ticket_id, "status", agent_id, plan, content, idempotency_key)

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
                **_envelope(ticket, correlation_id),
                agent_id=agent_id,
                body=text,
                documents_requested=wanted,
                status_change=change,
            )

        plan = status_plan(after_information_request, make_event)
        content = (text, *wanted)
        return await self._act(
            ticket_id, "information-request", agent_id, plan, content, idempotency_key, answers=True
        )

    async def add_note(
        self,
        ticket_id: str,
        body: str,
        *,
        agent_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> ActivityReceipt:
        """A note for agents only: the customer never sees it, nobody is e-mailed."""
        self.activity.check_message(body, "body")
        text = body.strip()

        def plan(ticket: TicketRecord, event_id: UUID) -> Outcome:
            note = NoteAdded(
                event_id=event_id, **_envelope(ticket, correlation_id), agent_id=agent_id, body=text
            )
            return Outcome((note,), RecordChange())

        return await self._act(ticket_id, "note", agent_id, plan, (text,), idempotency_key)

    async def transfer(
        self,
        ticket_id: str,
        team: str,
        reason: str,
        *,
        agent_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> ActivityReceipt:
        """Move the request to another team, with the reason for it: the router hands the
        whole request to the new team's topic and withdraws it from the old one's. Any agent
        may move any request (a triage agent routes by hand this way); an assignee of the old
        team is released."""
        self.activity.check_message(reason, "reason")
        why = reason.strip()

        def plan(ticket: TicketRecord, event_id: UUID) -> Outcome:
            content, decision, current = ticket.content, ticket.decision, ticket.team
            placed = content is not None and decision is not None
            check_transfer(ticket.status, current, placed, team, self.catalog)
            if current is None or content is None or decision is None:
                raise AssertionError("check_transfer lets no unplaced request through")
            move = Transfer(from_team=current, to_team=team, reason=why, agent_id=agent_id)
            event = TicketTransferred(
                event_id=event_id,
                **_envelope(ticket, correlation_id),
                transfer=move,
                request=content,
                decision=decision,
                status=ticket.status,
                routed_at=ticket.routed_at,
            )
            release = (ticket.assignee, None) if ticket.assignee else None
            return Outcome((event,), RecordChange(team=(current, team), assignee=release))

        content = (team, why)
        return await self._act(ticket_id, "transfer", agent_id, plan, content, idempotency_key)

    async def assign(
        self,
        ticket_id: str,
        assignee: str | None,
        *,
        agent_id: str,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> ActivityReceipt:
        """Give the request to an agent of its team (the caller, or another), or release it
        (None). Only an agent of the request's team can be its assignee."""
        member = await self.directory.get(assignee) if assignee else None

        def plan(ticket: TicketRecord, event_id: UUID) -> Outcome:
            check_assignee(ticket.status, ticket.team, assignee, member)
            assert ticket.team is not None  # checked above
            event = AssigneeChanged(
                event_id=event_id,
                **_envelope(ticket, correlation_id),
                actor_id=agent_id,
                team=ticket.team,
                assignee=assignee,
                previous=ticket.assignee,
            )
            return Outcome((event,), RecordChange(assignee=(ticket.assignee, assignee)))

        content = (assignee or "",)
        return await self._act(ticket_id, "assignment", agent_id, plan, content, idempotency_key)

    async def _act(
        self,
        ticket_id: str,
        name: str,
        agent_id: str,
        plan: Plan,
        content: tuple[str, ...],
        idempotency_key: str | None,
        *,
        answers: bool = False,  # an answer to the customer: the first one is measured
    ) -> ActivityReceipt:
        seen: list[TicketRecord] = []

        def observed(ticket: TicketRecord, event_id: UUID) -> Outcome:
            seen[:] = [ticket]
            return plan(ticket, event_id)

        action = Action(
            ticket_id=ticket_id,
            name=name,
            actor_id=agent_id,
            owner=None,
            plan=observed,
            content=content,
            idempotency_key=idempotency_key,
        )
        recorded = await self.activity.act(action)
        if recorded.fresh and seen:
            self._observe(seen[0], recorded.receipt, answers)
        return recorded.receipt

    def _observe(self, before: TicketRecord, receipt: ActivityReceipt, answers: bool) -> None:
        kinds = {e.event_type for e in before.events}
        transferred = "TicketTransferred" in kinds
        if answers and not kinds & {"AgentReplied", "InformationRequested"} and before.content:
            waited = (self.activity.delivery.now() - before.content.submitted_at).total_seconds()
            self.observer.first_reply(max(waited, 0.0), transferred)
        change = receipt.status_change
        if change is not None and change.to_status is Status.SOLVED:
            self.observer.solved(transferred)


def _envelope(ticket: TicketRecord, correlation_id: str) -> dict[str, str]:
    return {
        "ticket_id": ticket.ticket_id,
        "account_id": ticket.account_id,
        "correlation_id": correlation_id,
    }
