"""Extra training rows (agents' corrections, an export of past tickets): reading them, and the
comparison on the hold-out that refuses a worse model, on a small fixture."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from router.classifier.data import Example, write_examples
from router.classifier.extra import ExtraDataError, compare, read_extra
from router.classifier.model import ModelParams
from router.classifier.train import main as train_main
from shared.contracts.catalog import load_catalog

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
FAST = ModelParams(calibration_folds=3, embedding_gate=0.0)


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_corrections_and_a_zendesk_style_export_are_read(tmp_path: Path) -> None:
    corrections = write(
        tmp_path / "corrections.csv",
        ["text", "team", "customer_category", "original_team"],
        [["my card is late", "cards", "trading", "trading-exchange"]],
    )
    zendesk = write(
        tmp_path / "tickets.csv",
        ["Subject", "Description", "Category", "intent"],
        [["KYC", "my selfie check keeps failing", "verification", "kyc_liveness_failed"]],
    )
    [card] = read_extra(corrections, CATALOG, {"card_arrival"})
    assert (card.text, card.team, card.intent) == ("my card is late", "cards", None)
    [kyc] = read_extra(zendesk, CATALOG, {"kyc_liveness_failed"})
    assert kyc.text == "KYC\nmy selfie check keeps failing"
    assert (kyc.team, kyc.intent) == ("verification", "kyc_liveness_failed")


def test_a_row_without_a_known_team_is_refused_by_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", ["text", "team"], [["hello", "sales"]])
    with pytest.raises(ExtraDataError, match=r"bad.csv:2: needs a text and a team"):
        read_extra(bad, CATALOG, set())
    with pytest.raises(SystemExit) as exited:
        train_main(["--output", str(tmp_path / "m.joblib"), "--extra", str(bad)])
    assert exited.value.code == 2
    assert not (tmp_path / "m.joblib").exists()


def test_mislabelled_rows_make_a_worse_model_and_good_ones_do_not(
    small_examples: list[Example], tmp_path: Path
) -> None:
    holdout = small_examples[::5]
    holdout_path = tmp_path / "holdout.csv"
    write_examples(holdout_path, holdout)
    train = [e for e in small_examples if e not in holdout]
    # Every training text again, labelled with another team: what a broken export would give.
    teams = sorted({e.team for e in train})
    shifted = {team: teams[(i + 1) % len(teams)] for i, team in enumerate(teams)}
    poisoned = [Example(e.text, shifted[e.team], None, "bad") for e in train]
    worse = compare(small_examples, poisoned, holdout_path, params=FAST, n_jobs=1)
    assert worse.worse
    assert worse.with_extra.team_accuracy < worse.without_extra.team_accuracy - 0.005
    good = compare(small_examples, train[:40], holdout_path, params=FAST, n_jobs=1)
    assert not good.worse
    # Rows without an intent took one of their own team's, as the model read them.
    team_of = {e.intent: e.team for e in small_examples}
    assert all(team_of[r.intent] == r.team for r in worse.labelled)
