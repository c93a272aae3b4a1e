"""Time rules applied: the history's scheduler says on tickets.sla that an automation came due
(remind the customer, solve a request that waited on them, close a solved one); the intake, the
only writer of a request, applies it through the same machinery as the agents' actions, as
actor `automation:<rule id>`.

It applies only if the request is still where the rule found it (domain.automations); else
it is skipped, which is no error: the customer answered in between, or an agent moved it. The
event's id follows from the AutomationDue's, so a redelivered one records nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from uuid import UUID

from intake.domain.automations import Skip, automation_change, why_not_applicable
from intake.domain.outbox import RecordChange
from intake.ports import TicketRecord
from intake.service.activity import Action, Outcome, TicketActivity
from intake.service.errors import PublishFailedError, TicketNotFoundError
from shared.contracts.events import (
    AutomationDue,
    CustomerReminded,
    Envelope,
    StatusChanged,
    derived_event_id,
    sla_event_adapter,
)
from shared.kafka.records import DeadLetters, InboundRecord, decode_records
from shared.logging import get_logger

log = get_logger(__name__)

APPLIED = "applied"
SKIPPED = "skipped"

# (rule id, outcome: applied | skipped) -> None; the metrics hook.
AutomationObserver = Callable[[str, str], None]


def _ignore_outcome(rule_id: str, outcome: str) -> None:
    pass


class _NotApplicableError(Exception):
    """Raised from the plan, on the record read, to record nothing (never leaves this module)."""

    def __init__(self, reason: Skip) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AutomationResult:
    applied: bool
    skipped: Skip | None = None
    event_id: UUID | None = None  # the event recorded (applied, or applied the first time)


def actor_of(rule_id: str) -> str:
    return f"automation:{rule_id}"


@dataclass
class Automations:
    activity: TicketActivity
    on_outcome: AutomationObserver = field(default=_ignore_outcome)

    async def handle_records(
        self, records: Sequence[InboundRecord], dead_letters: DeadLetters
    ) -> None:
        """A consumed batch of tickets.sla: each record decoded alone (poison to the DLQ), each
        AutomationDue applied in order under its own record's dead-letter policy; SLA warnings
        and breaches are for the teams, not for the intake."""
        for record, event in await decode_records(records, sla_event_adapter, dead_letters):
            if isinstance(event, AutomationDue):
                await dead_letters.isolate(record, partial(self._apply, event))

    async def _apply(self, due: AutomationDue) -> None:
        await self.apply(due)

    async def apply(self, due: AutomationDue) -> AutomationResult:
        """Apply the automation if the request is still where the rule found it."""
        result = await self._attempt(due)
        self.on_outcome(due.rule_id, APPLIED if result.applied else SKIPPED)
        if result.skipped is not None:
            log.info(
                "automation skipped",
                ticket_id=due.ticket_id,
                rule_id=due.rule_id,
                action=due.action,
                reason=result.skipped.value,
            )
        return result

    async def _attempt(self, due: AutomationDue) -> AutomationResult:
        event_id = derived_event_id(due.event_id, "automation")
        actor = actor_of(due.rule_id)

        def plan(ticket: TicketRecord, event_id: UUID) -> Outcome:
            # Decided on the record read: the write that follows holds only if the status is
            # still the one read (compare-and-set), else this is decided again on the new one.
            reason = why_not_applicable(
                ticket.status,
                ticket.events,
                waits_on=due.status,
                since_event_id=due.since_event_id,
            )
            if reason is not None:
                raise _NotApplicableError(reason)
            change = automation_change(ticket.status, due.action)
            envelope = {
                "event_id": event_id,
                "ticket_id": ticket.ticket_id,
                "account_id": ticket.account_id,
                "correlation_id": due.correlation_id,
            }
            event: Envelope
            if change is None:
                event = CustomerReminded(
                    **envelope, rule_id=due.rule_id, waiting_since=due.waiting_since
                )
            else:
                event = StatusChanged(
                    **envelope,
                    actor_id=actor,
                    actor_role="system",
                    status_change=change,
                    note=due.note.strip() or None,
                    rule_id=due.rule_id,
                )
            return Outcome((event,), RecordChange(status=change))

        action = Action(
            ticket_id=due.ticket_id,
            name=f"automation-{due.action}",
            actor_id=actor,
            owner=None,
            plan=plan,
            content=(due.rule_id, due.action, due.since_event_id),
            event_id=event_id,
        )
        try:
            recorded = await self.activity.act(action)
        except TicketNotFoundError:
            return AutomationResult(applied=False, skipped=Skip.UNKNOWN)
        except _NotApplicableError as not_applicable:
            return AutomationResult(applied=False, skipped=not_applicable.reason)
        except PublishFailedError:
            # Recorded with its event in the outbox: the relay publishes it (or a redelivery
            # of this AutomationDue does), so the automation is applied.
            log.warning("automation recorded, publish left to the relay", ticket_id=due.ticket_id)
            return AutomationResult(applied=True, event_id=event_id)
        if not recorded.fresh:
            return AutomationResult(applied=False, skipped=Skip.ALREADY_APPLIED, event_id=event_id)
        log.info(
            "automation applied", ticket_id=due.ticket_id, rule_id=due.rule_id, action=due.action
        )
        return AutomationResult(applied=True, event_id=event_id)
