"""Teams and drop-down categories: configuration, loaded once, validated, immutable."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from pydantic import Field, model_validator

from shared.contracts.events import Model

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.toml")


class Category(Model):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    label: str
    team: str
    requires_id_documents: bool = False


class Catalog(Model):
    teams: tuple[str, ...]
    triage_team: str
    categories: tuple[Category, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        unknown = {c.team for c in self.categories} - set(self.teams)
        if unknown:
            raise ValueError(f"categories map to unknown teams: {sorted(unknown)}")
        if self.triage_team not in self.teams:
            raise ValueError(f"triage team {self.triage_team!r} is not in teams")
        ids = [c.id for c in self.categories]
        if len(ids) != len(set(ids)):
            raise ValueError("category ids must be unique")
        return self

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    @property
    def category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    def team_for(self, category_id: str) -> str:
        category = self.category(category_id)
        return category.team if category else self.triage_team


@cache
def load_catalog(path: Path | None = None) -> Catalog:
    source = path or DEFAULT_CATALOG_PATH
    with source.open("rb") as handle:
        return Catalog.model_validate(tomllib.load(handle))
