"""Agents' corrections, end to end across the two services' code (no processes): requests moved
by agents (history's projection records) → `make corrections`' CSV → the router's extra training
rows → the hold-out comparison that accepts good corrections and refuses a broken export."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from history.corrections import write_corrections
from history.domain.corrections import correction_of
from history.domain.projection import RequestView, TransferRecord
from router.classifier.data import Example, load_examples, write_examples
from router.classifier.extra import compare, read_extra
from router.classifier.model import ModelParams
from shared.contracts.catalog import load_catalog

pytestmark = pytest.mark.unit

FAST = ModelParams(calibration_folds=3, embedding_gate=0.0)
AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def small_set(per_intent: int = 12) -> list[Example]:
    taken: dict[str | None, int] = defaultdict(int)
    chosen = []
    for e in load_examples():
        if taken[e.intent] < per_intent:
            taken[e.intent] += 1
            chosen.append(e)
    return chosen


def moved(n: int, text: str, from_team: str, to_team: str) -> RequestView:
    subject, _, description = text.partition(" ")
    return RequestView(
        ticket_id=f"T{n:04d}-AAAA-BBBB",
        account_id="acc-1001",
        subject=subject,
        description=description or subject,
        category="other",
        team=to_team,
        updated_at=AT,
        transfers=(
            TransferRecord(
                event_id=f"e{n}",
                at=AT,
                from_team=from_team,
                to_team=to_team,
                reason="misrouted",
                agent_id="agent-1",
                original_reason="model",
            ),
        ),
    )


def exported(views: list[RequestView], path: Path) -> Path:
    rows = [c for v in views if (c := correction_of(v, "Alice")) is not None]
    assert len(rows) == len(views)  # every view was moved, so every one is a correction
    write_corrections(path, rows)
    return path


def test_corrections_train_the_router_and_a_broken_export_is_refused(tmp_path: Path) -> None:
    examples = small_set()
    holdout = examples[::5]
    write_examples(tmp_path / "holdout.csv", holdout)
    rest = [e for e in examples if e not in holdout]
    teams = sorted({e.team for e in rest})
    other = {team: teams[(i + 1) % len(teams)] for i, team in enumerate(teams)}

    # Agents moved these requests to their right team.
    right = exported(
        [moved(n, e.text, other[e.team], e.team) for n, e in enumerate(rest[:200])],
        tmp_path / "right.csv",
    )
    # A broken export: every request "moved" to a wrong team.
    wrong = exported(
        [moved(n, e.text, e.team, other[e.team]) for n, e in enumerate(rest)],
        tmp_path / "wrong.csv",
    )

    catalog = load_catalog()
    known = {e.intent for e in examples if e.intent}
    right_rows = read_extra(right, catalog, known)
    assert len(right_rows) == 200
    assert {r.intent for r in right_rows} == {None}  # the export names teams, not intents
    accepted = compare(examples, right_rows, tmp_path / "holdout.csv", params=FAST, n_jobs=1)
    assert not accepted.worse
    team_of = {e.intent: e.team for e in examples}
    assert all(team_of[r.intent] == r.team for r in accepted.labelled)

    refused = compare(
        examples, read_extra(wrong, catalog, known), tmp_path / "holdout.csv", params=FAST, n_jobs=1
    )
    assert refused.worse
