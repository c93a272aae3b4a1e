"""What the intake's routes take from a request besides its body: who is asking, the use
cases, the correlation id (read once, generated when absent), the Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Header, Request

from intake.adapters.multipart import FormSpec
from intake.domain.attachments import AttachmentLimits
from intake.domain.idempotency import IDEMPOTENCY_KEY_PATTERN
from intake.service.agent import AgentActions
from intake.service.customer import CustomerActions
from intake.service.files import Attachments
from intake.service.recovery import AccountRecovery
from intake.service.submission import Submissions
from intake.service.suggestions import Suggestions
from shared.contracts.identity import Principal, Role
from shared.http.auth import require_roles

CustomerPrincipal = Annotated[Principal, Depends(require_roles(Role.CUSTOMER))]
AgentPrincipal = Annotated[Principal, Depends(require_roles(Role.AGENT))]
AnyPrincipal = Annotated[Principal, Depends(require_roles(*Role))]


async def correlation_id(
    x_correlation_id: Annotated[
        str | None,
        Header(
            max_length=128,
            pattern=r"^[\w.:-]+$",
            description="Ties this request to its events and logs; generated when absent",
        ),
    ] = None,
) -> str:
    return x_correlation_id or str(uuid4())


CorrelationId = Annotated[str, Depends(correlation_id)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN.pattern,
        description=(
            "Send the same key when retrying: the first answer is repeated (same status, same"
            " body, same request or comment), for a day, and the action is done once."
        ),
        examples=["5f0c2d1e-8a8b-4f57-9d51-3c2b7f1c9a40"],
    ),
]


@dataclass(frozen=True, slots=True)
class IntakeUseCases:
    """What the routes call, built once by the app."""

    submissions: Submissions
    suggestions: Suggestions
    recovery: AccountRecovery
    customers: CustomerActions
    agents: AgentActions
    attachments: Attachments
    upload_rules: UploadRules


@dataclass(frozen=True, slots=True)
class UploadRules:
    limits: AttachmentLimits
    max_form_field_bytes: int

    def spec(self, *text_fields: str) -> FormSpec:
        return FormSpec(
            text_fields=frozenset(text_fields),
            file_field="attachments",
            limits=self.limits,
            max_field_bytes=self.max_form_field_bytes,
            max_parts=self.limits.max_count + 2 * len(text_fields) + 16,
        )


def use_cases(request: Request) -> IntakeUseCases:
    found: IntakeUseCases = request.app.state.intake
    return found


UseCases = Annotated[IntakeUseCases, Depends(use_cases)]
