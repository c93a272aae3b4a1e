"""More training data from outside the repo: agents' corrections (`make corrections`) or an
organisation's export of past tickets, and the check that it does not make the model worse.

A row needs the request's text — a `text` column, or `subject` and `description` (as a
Zendesk-style export names them; `Subject`, `Description` too) — and its label: a `team`
(or `group`: a catalog team id), or a `category` of the catalog (mapped to its team). An
`intent` column is used when it names an intent the model knows; otherwise a row's intent is
`extra_<team>`, a class of its own per team (the team's probability sums its intents').

`compare` fits the model twice without the fixed development hold-out, without and with the
extra rows, and scores both on it; `router.classifier.train --extra` refuses to write a model
whose team accuracy there drops by more than `margin` unless forced.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from router.classifier.data import Example, read_examples, without
from router.classifier.metrics import accuracy
from router.classifier.model import ModelParams, fit
from router.classifier.types import TeamClassifier
from shared.contracts.catalog import Catalog

DEFAULT_MARGIN = 0.005


class ExtraDataError(ValueError):
    """An extra file that cannot be trained on, said in one line."""


def _column(row: dict[str, str], *names: str) -> str:
    lowered = {k.strip().lower(): v for k, v in row.items() if k}
    return next((lowered[n].strip() for n in names if lowered.get(n, "").strip()), "")


def read_extra(path: Path, catalog: Catalog, known_intents: set[str]) -> list[Example]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    examples: list[Example] = []
    for number, row in enumerate(rows, start=2):
        text = _column(row, "text") or "\n".join(
            p for p in (_column(row, "subject"), _column(row, "description")) if p
        )
        team = _column(row, "team", "group")
        category = _column(row, "category")
        if not team and category:
            found = catalog.category(category)
            team = found.team if found else ""
        if not text or team not in catalog.teams or team == catalog.triage_team:
            raise ExtraDataError(
                f"{path}:{number}: needs a text and a team of the catalog (or a category), got"
                f" team {team!r} category {category!r}"
            )
        intent = _column(row, "intent")
        examples.append(
            Example(
                text=text,
                team=team,
                intent=intent if intent in known_intents else None,
                source=path.stem,
            )
        )
    if not examples:
        raise ExtraDataError(f"{path}: no rows")
    return examples


@dataclass(frozen=True, slots=True)
class Scores:
    team_accuracy: float
    intent_accuracy: float


@dataclass(frozen=True, slots=True)
class Comparison:
    holdout_rows: int
    extra_rows: int
    without_extra: Scores
    with_extra: Scores
    margin: float
    labelled: tuple[Example, ...] = field(default=(), repr=False)
    """The extra rows, each with an intent (as they were trained on)."""

    @property
    def worse(self) -> bool:
        return self.with_extra.team_accuracy < self.without_extra.team_accuracy - self.margin


def with_intents(
    extra: Sequence[Example], model: TeamClassifier, examples: Sequence[Example]
) -> list[Example]:
    """Each row without an intent gets the model's most likely intent of the row's team (else
    the team's most frequent intent in `examples`)."""
    team_of = {e.intent: e.team for e in examples if e.intent}
    frequent: dict[str, str] = {}
    for (intent, team), _ in Counter(
        (e.intent, e.team) for e in examples if e.intent
    ).most_common():
        frequent.setdefault(team, str(intent))
    pending = [e for e in extra if e.intent is None]
    predictions = iter(model.predict([e.text for e in pending]))
    labelled = []
    for row in extra:
        if row.intent is None:
            ranked = next(predictions).intents
            own = next((i for i, _ in ranked if team_of.get(i) == row.team), None)
            row = replace(row, intent=own or frequent[row.team])
        labelled.append(row)
    return labelled


def _scores(model: TeamClassifier, holdout: Sequence[Example]) -> Scores:
    predictions = model.predict([e.text for e in holdout])
    return Scores(
        team_accuracy=round(accuracy([e.team for e in holdout], [p.team for p in predictions]), 4),
        intent_accuracy=round(
            accuracy([e.intent for e in holdout], [p.intent for p in predictions]), 4
        ),
    )


def compare(
    examples: Sequence[Example],
    extra: Sequence[Example],
    holdout_path: Path,
    *,
    params: ModelParams,
    n_jobs: int = 2,
    margin: float = DEFAULT_MARGIN,
) -> Comparison:
    holdout = read_examples(holdout_path)
    base = without(examples, holdout)
    before = fit(base, params, n_jobs=n_jobs)
    labelled = with_intents(extra, before, base)
    after = fit([*base, *labelled], params, n_jobs=n_jobs)
    return Comparison(
        holdout_rows=len(holdout),
        extra_rows=len(extra),
        without_extra=_scores(before, holdout),
        with_extra=_scores(after, holdout),
        margin=margin,
        labelled=tuple(labelled),
    )
