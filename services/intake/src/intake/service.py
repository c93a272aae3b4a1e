"""Intake use cases: validate, record, publish; nothing half-done when Kafka is away."""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.submission import (
    FieldError,
    SubmissionForm,
    SubmissionLimits,
    build_submission,
    check_form,
)
from intake.ports import EventPublisher, TicketStore
from shared.catalog import Catalog
from shared.events import TicketSubmitted, new_ticket_id
from shared.logging import get_logger
from shared.topics import Topics

log = get_logger(__name__)


class InvalidSubmissionError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


class PublishFailedError(RuntimeError):
    """The broker did not acknowledge; nothing was kept."""


@dataclass
class IntakeService:
    catalog: Catalog
    limits: SubmissionLimits
    topics: Topics
    store: TicketStore
    publisher: EventPublisher

    async def submit(
        self, form: SubmissionForm, *, account_id: str, correlation_id: str
    ) -> TicketSubmitted:
        errors = check_form(form, self.limits, self.catalog)
        if errors:
            raise InvalidSubmissionError(errors)
        event = build_submission(
            form,
            account_id=account_id,
            ticket_id=new_ticket_id(),
            correlation_id=correlation_id,
            catalog=self.catalog,
        )
        await self.store.add(event)
        try:
            await self.publisher.publish(self.topics.submitted, event)
        except Exception as exc:
            await self.store.remove(event.ticket_id)
            log.warning("publish failed, submission rolled back", error=repr(exc))
            raise PublishFailedError(str(exc)) from exc
        log.info("ticket submitted", ticket_id=event.ticket_id, category=event.category)
        return event
