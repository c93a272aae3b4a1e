"""The router's classification over HTTP (`POST /v1/classify`, service to service): what the
intake asks while a customer types, and what the router answers. Internal: it names teams and
carries the model's confidence, so only a service reads it; the intake trims it for customers.
"""

from __future__ import annotations

from pydantic import Field

from shared.contracts.catalog import Document, Guidance
from shared.contracts.events import Model, Priority

MAX_CLASSIFY_TEXT = 10_000


class ClassifyRequest(Model):
    subject: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=MAX_CLASSIFY_TEXT)
    category: str | None = Field(
        default=None, max_length=64, description="The category picked so far, if any"
    )
    account_id: str | None = Field(
        default=None,
        max_length=64,
        description="Whose request it is: rules that exempt an account kind need it",
    )


class CategoryScore(Model):
    id: str
    label: str
    probability: float = Field(ge=0.0, le=1.0)


class Classification(Model):
    team: str = Field(description="Where the router would send the request")
    intent: str | None = None
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated probability of `team`")
    priority: Priority = Priority.NORMAL
    rule: str | None = Field(default=None, description="Id of the policy rule that matched")
    categories: tuple[CategoryScore, ...] = Field(
        default=(), description="The catalog's categories, most likely first (up to 3)"
    )
    documents: tuple[Document, ...] = Field(
        default=(), description="The documents the policy will require, in the catalog's words"
    )
    guidance: tuple[Guidance, ...] = ()
    model_version: str
