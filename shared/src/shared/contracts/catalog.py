"""Teams and drop-down categories: configuration, loaded once, validated, immutable."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from shared.contracts.events import Model

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.toml")


Slug = Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]


class Document(Model):
    """A document an agent needs before acting (an ID photo, a selfie with it)."""

    id: Slug
    label: str


class Guidance(Model):
    """Help for the customer from the Help Centre's articles: a text and the steps to take."""

    id: Slug
    title: str
    text: str
    steps: tuple[str, ...] = ()


class Category(Model):
    id: Slug
    label: str
    team: str
    documents: tuple[str, ...] = Field(
        default=(), description="Ids of the documents a request of this category needs"
    )
    guidance: tuple[str, ...] = ()

    @property
    def requires_id_documents(self) -> bool:
        return bool(self.documents)


class Catalog(Model):
    teams: tuple[str, ...]
    triage_team: str
    categories: tuple[Category, ...]
    documents: tuple[Document, ...] = ()
    guidance: tuple[Guidance, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        unknown = {c.team for c in self.categories} - set(self.teams)
        if unknown:
            raise ValueError(f"categories map to unknown teams: {sorted(unknown)}")
        if self.triage_team not in self.teams:
            raise ValueError(f"triage team {self.triage_team!r} is not in teams")
        for kind, items in (
            ("category", self.categories),
            ("document", self.documents),
            ("guidance", self.guidance),
        ):
            ids = [item.id for item in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{kind} ids must be unique")
        for category in self.categories:
            self.documents_of(category.documents)
            self.guidance_of(category.guidance)
        return self

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    @property
    def category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    def documents_of(self, ids: tuple[str, ...]) -> tuple[Document, ...]:
        """The named documents, in order; an unknown id is a configuration error."""
        known = {d.id: d for d in self.documents}
        if unknown := [i for i in ids if i not in known]:
            raise ValueError(f"unknown documents: {unknown}")
        return tuple(known[i] for i in ids)

    def guidance_of(self, ids: tuple[str, ...]) -> tuple[Guidance, ...]:
        known = {g.id: g for g in self.guidance}
        if unknown := [i for i in ids if i not in known]:
            raise ValueError(f"unknown guidance: {unknown}")
        return tuple(known[i] for i in ids)

    def team_for(self, category_id: str) -> str:
        category = self.category(category_id)
        return category.team if category else self.triage_team


@cache
def load_catalog(path: Path | None = None) -> Catalog:
    source = path or DEFAULT_CATALOG_PATH
    with source.open("rb") as handle:
        return Catalog.model_validate(tomllib.load(handle))
