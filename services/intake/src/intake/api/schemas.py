"""The intake's HTTP contract: request and response models with examples (the OpenAPI
documentation FastAPI cannot infer is in intake.api.openapi)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from intake.domain.suggestions import CustomerSuggestion
from intake.service.receipts import ActivityReceipt, SubmissionReceipt
from shared.contracts.catalog import Catalog, Category, Document, Guidance
from shared.contracts.events import AttachmentRef, TicketId
from shared.contracts.statuses import Status
from shared.i18n import gettext

# --- models ---------------------------------------------------------------------------------

EXAMPLE_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
EXAMPLE_ATTACHMENT_ID = "att-0b7c6f0a9d3e4a55b1f07d0c2a9e6b11"
EXAMPLE_ATTACHMENT: dict[str, JsonValue] = {
    "attachment_id": EXAMPLE_ATTACHMENT_ID,
    "filename": "passport.jpg",
    "content_type": "image/jpeg",
    "size": 482133,
    "sha256": EXAMPLE_SHA256,
    "url": f"/v1/tickets/7KQ2-M9XD-4TRA/attachments/{EXAMPLE_ATTACHMENT_ID}",
}


class TicketRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "withdrawals",
                    "subject": "Withdrawal stuck",
                    "description": "My BTC withdrawal has been pending for two days.",
                }
            ]
        }
    )

    category: str = Field(
        description="A drop-down value, see GET /v1/categories", examples=["withdrawals"]
    )
    subject: str = Field(max_length=1000, examples=["Withdrawal stuck"])
    description: str = Field(
        max_length=100_000, examples=["My BTC withdrawal has been pending for two days."]
    )
    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")


class AttachmentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ATTACHMENT]})

    attachment_id: str
    filename: str
    content_type: str = Field(description="Judged from the bytes, not from what was declared")
    size: int
    sha256: str
    url: str = Field(description="Where the owner and agents download it")

    @classmethod
    def of(cls, ticket_id: str, ref: AttachmentRef) -> AttachmentOut:
        return cls(
            **ref.model_dump(), url=f"/v1/tickets/{ticket_id}/attachments/{ref.attachment_id}"
        )


class TicketAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticket_id": "7KQ2-M9XD-4TRA",
                    "status": "new",
                    "required_documents_missing": False,
                    "attachments": [EXAMPLE_ATTACHMENT],
                }
            ]
        }
    )

    ticket_id: TicketId
    status: str = "new"
    required_documents_missing: bool = Field(
        default=False,
        description="The category needs ID confirmation photos and none came: we ask at once",
    )
    attachments: list[AttachmentOut] = []

    @classmethod
    def of(cls, receipt: SubmissionReceipt) -> TicketAccepted:
        return cls(
            ticket_id=receipt.ticket_id,
            required_documents_missing=receipt.required_documents_missing,
            attachments=[AttachmentOut.of(receipt.ticket_id, a) for a in receipt.attachments],
        )


class LabelledOut(BaseModel):
    """A catalog entry in the customer's language."""

    id: str
    label: str

    @classmethod
    def of(cls, entry: Category | Document, locale: str) -> LabelledOut:
        return cls(id=entry.id, label=gettext(locale, entry.label))


class GuidanceOut(BaseModel):
    id: str
    title: str
    text: str
    steps: list[str]

    @classmethod
    def of(cls, guidance: Guidance, locale: str) -> GuidanceOut:
        return cls(
            id=guidance.id,
            title=gettext(locale, guidance.title),
            text=gettext(locale, guidance.text),
            steps=[gettext(locale, step) for step in guidance.steps],
        )


class CategoryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "disable-2fa",
                    "label": "Disable 2FA / recover account access",
                    "requires_id_documents": True,
                    "documents": [
                        {"id": "id-front", "label": "A photo of the front of your ID document"},
                        {"id": "selfie-with-id", "label": "A selfie holding that ID document"},
                    ],
                }
            ]
        }
    )

    id: str
    label: str
    requires_id_documents: bool
    documents: list[LabelledOut] = Field(description="What a request of this category needs")

    @classmethod
    def of(cls, category: Category, catalog: Catalog, locale: str) -> CategoryOut:
        return cls(
            id=category.id,
            label=gettext(locale, category.label),
            requires_id_documents=category.requires_id_documents,
            documents=[LabelledOut.of(d, locale) for d in catalog.documents_of(category.documents)],
        )


class SuggestionRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "Money not arrived",
                    "description": "I sent BTC to my wallet yesterday and it is still pending.",
                    "category": "trading",
                }
            ]
        }
    )

    subject: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=100_000)
    category: str | None = Field(
        default=None, max_length=64, description="What the customer picked so far"
    )
    locale: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}([-_][A-Za-z]{2})?$",
        description="The language of the labels; default: from Accept-Language",
    )


class SuggestionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "available": True,
                    "suggested_category": {"id": "withdrawals", "label": "Withdrawals"},
                    "categories": [
                        {"id": "withdrawals", "label": "Withdrawals and transfers"},
                        {"id": "deposits", "label": "Deposits (crypto, card, bank transfer)"},
                    ],
                    "documents": [],
                    "guidance": [],
                }
            ]
        }
    )

    available: bool = Field(description="False: no suggestion now (the form works the same)")
    suggested_category: LabelledOut | None = Field(
        description="The category to propose, when the text makes one likely enough"
    )
    categories: list[LabelledOut] = Field(description="Likely categories, most likely first")
    documents: list[LabelledOut] = Field(description="Attach these now: the request needs them")
    guidance: list[GuidanceOut]

    @classmethod
    def of(cls, suggestion: CustomerSuggestion, locale: str) -> SuggestionOut:
        suggested = suggestion.suggested
        return cls(
            available=suggestion.available,
            suggested_category=LabelledOut.of(suggested, locale) if suggested else None,
            categories=[LabelledOut.of(c, locale) for c in suggestion.categories],
            documents=[LabelledOut.of(d, locale) for d in suggestion.documents],
            guidance=[GuidanceOut.of(g, locale) for g in suggestion.guidance],
        )


class CommentRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"body": "I attached the screenshot you asked for."}]}
    )
    body: str = Field(min_length=1, max_length=100_000)


class ReplyRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body": "Your withdrawal was sent; the transaction id is 4f3c...",
                    "status": "solved",
                }
            ]
        }
    )
    body: str = Field(min_length=1, max_length=100_000, description="Public: the customer reads it")
    status: Status | None = Field(default=None, description="Move the request on at once")


class StatusRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "on-hold", "note": "Waiting on the bank"}]}
    )
    status: Status
    note: str | None = Field(default=None, max_length=100_000)


class InformationRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body": "To disable 2FA we need a photo of your ID and a selfie holding it.",
                    "documents": ["ID document (front)", "Selfie with the ID document"],
                }
            ]
        }
    )
    body: str = Field(min_length=1, max_length=100_000)
    documents: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=10, description="What the customer should upload"
    )


class NoteRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"body": "Customer called: the card is lost, not stolen."}]}
    )
    body: str = Field(min_length=1, max_length=100_000, description="Agents only; never mailed")


class TransferRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "team": "withdrawals-transfers",
                    "reason": "A stuck BTC withdrawal, not a trading question.",
                }
            ]
        }
    )
    team: str = Field(min_length=1, max_length=64, description="The team to move it to")
    reason: str = Field(
        min_length=1, max_length=2_000, description="Why: the receiving team reads it"
    )


class AssignmentRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"assignee": "agent-2"}]})
    assignee: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
        description="An agent of the request's team; absent: the caller",
    )


class StatusChangeOut(BaseModel):
    from_status: Status
    to_status: Status


class ActivityAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticket_id": "7KQ2-M9XD-4TRA",
                    "event_id": "0d5b3c4e-2f7a-4e0b-9a53-86f9f0a8d7c1",
                    "event_type": "AgentReplied",
                    "status": "solved",
                    "status_change": {"from_status": "open", "to_status": "solved"},
                    "attachments": [],
                }
            ]
        }
    )
    ticket_id: TicketId
    event_id: UUID
    event_type: str
    status: Status = Field(description="The status after this action")
    status_change: StatusChangeOut | None = None
    attachments: list[AttachmentOut] = []
    follow_up_ticket_id: TicketId | None = Field(
        default=None,
        description="The request was closed: this new request, linked to it, took the message",
    )

    @classmethod
    def of(cls, receipt: ActivityReceipt) -> ActivityAccepted:
        change = receipt.status_change
        return cls(
            ticket_id=receipt.ticket_id,
            event_id=receipt.event_id,
            event_type=receipt.event_type,
            status=receipt.status,
            status_change=(
                StatusChangeOut(from_status=change.from_status, to_status=change.to_status)
                if change
                else None
            ),
            attachments=[AttachmentOut.of(receipt.ticket_id, a) for a in receipt.attachments],
            follow_up_ticket_id=receipt.follow_up_id,
        )


def accepted(model: BaseModel, *, replayed: bool = False) -> JSONResponse:
    """202 with the model; a repeated answer says so (`Idempotent-Replayed: true`)."""
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(model.model_dump(mode="json"), status_code=202, headers=headers)


class RecoveryAsk(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "alice@example.com", "locale": "en"}]}
    )

    email: str = Field(
        min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", description="Sign-in address"
    )
    locale: str = Field(default="en", pattern=r"^[A-Za-z]{2}([-_][A-Za-z]{2})?$")


RECOVERY_SENT = (
    "If an account uses this address, we have sent a link to it. The link works once, for a"
    " short time: open it to file your 2FA request with your ID photos."
)


class RecoveryAsked(BaseModel):
    detail: str = Field(
        default=RECOVERY_SENT, description="The same answer whether or not an account uses it"
    )


class RecoveryLinkCheck(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class RecoveryLinkOut(BaseModel):
    state: Literal["valid", "used", "expired", "invalid"]
    expires_at: datetime | None = Field(default=None, description="Until when a valid link works")
