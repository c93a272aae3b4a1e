"""Turning a signed-in customer's form into a TicketSubmitted event (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from intake.domain.attachments import counts_as_id_document
from shared.contracts.catalog import Catalog
from shared.contracts.events import AttachmentRef, TicketSubmitted

LOCALE_PATTERN = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


@dataclass(frozen=True, slots=True)
class SubmissionForm:
    category: str
    subject: str
    description: str
    attachments: tuple[AttachmentRef, ...] = ()
    locale: str = "en"


@dataclass(frozen=True, slots=True)
class SubmissionLimits:
    subject_max: int = 200
    description_min: int = 10
    description_max: int = 20_000


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str


def check_form(
    form: SubmissionForm, limits: SubmissionLimits, catalog: Catalog
) -> list[FieldError]:
    """Every problem with the form at once, so the customer fixes them in one go."""
    errors: list[FieldError] = []
    if catalog.category(form.category) is None:
        errors.append(FieldError("category", f"must be one of: {', '.join(catalog.category_ids)}"))
    subject = form.subject.strip()
    if not subject:
        errors.append(FieldError("subject", "must not be empty"))
    elif len(subject) > limits.subject_max:
        errors.append(FieldError("subject", f"at most {limits.subject_max} characters"))
    description = form.description.strip()
    if len(description) < limits.description_min:
        errors.append(FieldError("description", f"at least {limits.description_min} characters"))
    elif len(description) > limits.description_max:
        errors.append(FieldError("description", f"at most {limits.description_max} characters"))
    if not LOCALE_PATTERN.fullmatch(form.locale):
        errors.append(FieldError("locale", "a language tag such as en or pt-BR"))
    return errors


class UnknownCategoryError(ValueError):
    def __init__(self, category: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown category {category!r}; choose one of: {', '.join(known)}")


def build_submission(
    form: SubmissionForm,
    *,
    account_id: str,
    ticket_id: str,
    correlation_id: str,
    catalog: Catalog,
    event_id: UUID | None = None,
    follow_up_of: str | None = None,
) -> TicketSubmitted:
    category = catalog.category(form.category)
    if category is None:
        raise UnknownCategoryError(form.category, catalog.category_ids)
    has_documents = counts_as_id_document([a.content_type for a in form.attachments])
    return TicketSubmitted(
        **({"event_id": event_id} if event_id else {}),
        ticket_id=ticket_id,
        account_id=account_id,
        correlation_id=correlation_id,
        category=category.id,
        subject=form.subject.strip(),
        description=form.description.strip(),
        attachments=form.attachments,
        # Asking for ID photos at once saves the customer a round trip of days; a text file
        # cannot be one, so only images and PDFs count.
        required_documents_missing=category.requires_id_documents and not has_documents,
        locale=form.locale,
        follow_up_of=follow_up_of,
    )
