from __future__ import annotations

import pytest

from intake.domain.submission import SubmissionForm, SubmissionLimits, build_submission, check_form
from shared.contracts.catalog import load_catalog
from shared.contracts.events import AttachmentRef

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
LIMITS = SubmissionLimits(subject_max=20, description_min=10, description_max=50)


def form(**overrides: object) -> SubmissionForm:
    fields: dict[str, object] = {
        "category": "withdrawals",
        "subject": "Stuck",
        "description": "My withdrawal is stuck",
    }
    return SubmissionForm(**(fields | overrides))  # type: ignore[arg-type]


def test_a_good_form_has_no_errors() -> None:
    assert check_form(form(), LIMITS, CATALOG) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": "nope"}, "category"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 21}, "subject"),
        ({"description": "too short"}, "description"),
        ({"description": "x" * 51}, "description"),
    ],
)
def test_each_rule_names_its_field(overrides: dict[str, object], field: str) -> None:
    assert [e.field for e in check_form(form(**overrides), LIMITS, CATALOG)] == [field]


def test_all_errors_at_once() -> None:
    errors = check_form(form(category="x", subject="", description=""), LIMITS, CATALOG)
    assert {e.field for e in errors} == {"category", "subject", "description"}


def test_id_document_categories_without_attachments_are_flagged() -> None:
    event = build_submission(
        form(category="disable-2fa"),
        account_id="acc-1001",
        ticket_id="AAAA-BBBB-CCCC",
        correlation_id="c",
        catalog=CATALOG,
    )
    assert event.required_documents_missing


def test_id_document_categories_with_attachments_are_not_flagged() -> None:
    photo = AttachmentRef(
        attachment_id="a1", filename="id.jpg", content_type="image/jpeg", size=10, sha256="0" * 64
    )
    event = build_submission(
        form(category="change-email", attachments=(photo,)),
        account_id="acc-1001",
        ticket_id="AAAA-BBBB-CCCC",
        correlation_id="c",
        catalog=CATALOG,
    )
    assert not event.required_documents_missing


def test_other_categories_never_need_documents() -> None:
    event = build_submission(
        form(),
        account_id="acc-1001",
        ticket_id="AAAA-BBBB-CCCC",
        correlation_id="c",
        catalog=CATALOG,
    )
    assert not event.required_documents_missing
    assert event.account_id == "acc-1001"
