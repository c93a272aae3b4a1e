"""Training is deterministic and writes a loadable artifact; the shipped data is sound."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from router.classifier import load_classifier
from router.classifier.data import (
    BANKING77_CSV,
    CRYPTO_CSV,
    DEV_HOLDOUT_CSV,
    Example,
    read_examples,
    without,
    write_examples,
)
from router.classifier.evaluate import main as evaluate_main
from router.classifier.model import ModelParams, fit, model_version
from router.classifier.runtime import TfidfTeamClassifier
from router.classifier.train import train
from shared.contracts.catalog import load_catalog

pytestmark = pytest.mark.unit


def test_training_twice_gives_the_same_model(
    small_examples: list[Example], small_model: TfidfTeamClassifier, small_params: ModelParams
) -> None:
    again = fit(small_examples, small_params)
    assert again.version == small_model.version
    assert again.version.startswith("tfidf-minilm-lr-")
    assert len(again.version) == len("tfidf-minilm-lr-") + 12
    texts = [e.text for e in small_examples[::10]]
    np.testing.assert_array_equal(
        again.predict_proba(texts)[1], small_model.predict_proba(texts)[1]
    )


def test_version_follows_data_and_parameters(
    small_examples: list[Example], small_params: ModelParams
) -> None:
    base = model_version(small_examples, small_params)
    assert model_version(small_examples[1:], small_params) != base
    assert model_version(small_examples, replace(small_params, alpha=2e-5)) != base
    tfidf_only = model_version(small_examples, replace(small_params, embedding_gate=0.0))
    assert tfidf_only.startswith("tfidf-lr-")
    assert model_version(list(small_examples), small_params) == base


def test_an_intent_with_two_teams_is_refused(small_examples: list[Example]) -> None:
    broken = [*small_examples, replace(small_examples[0], team="technical")]
    with pytest.raises(ValueError, match="maps to"):
        fit(broken, ModelParams(calibration_folds=2))


def test_train_writes_a_model_and_evaluate_reads_it(
    small_examples: list[Example], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "train.csv"
    write_examples(data, small_examples)
    model_path = tmp_path / "model.joblib"
    result = train(model_path, files=[data], params=ModelParams(calibration_folds=2), n_jobs=1)
    assert result.path == model_path
    assert result.size_bytes == model_path.stat().st_size
    assert load_classifier(model_path).version == result.version

    held_out = tmp_path / "eval.csv"
    with held_out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "team", "note"])  # no intent column; extra column ignored
        writer.writerow(["my card still hasn't arrived", "cards", "x"])
        writer.writerow(["someone hacked my account and withdrew my BTC", "security", ""])
        writer.writerow(["how do I change my email address", "account", ""])
    evaluate_main(["--data", str(held_out), "--model", str(model_path), "--wrong", "0.5"])
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 3
    assert "intent_accuracy" not in report
    assert report["model"]["version"] == result.version
    assert report["speed"]["classifications_per_second"] > 0
    assert report["confusion"]["labels"]
    assert report["simulation"]["p_wrong"] == 0.5
    assert 0 <= report["simulation"]["misroute_rate"] <= 1


def test_training_data_is_consistent() -> None:
    banking = read_examples(BANKING77_CSV)
    crypto = read_examples(CRYPTO_CSV)
    assert len(banking) == 10_003
    assert len({e.intent for e in banking}) == 77
    catalog = load_catalog()
    model_teams = set(catalog.teams) - {catalog.triage_team}
    assert {e.team for e in banking + crypto} == model_teams
    per_intent = Counter(e.intent for e in crypto)
    assert len(per_intent) >= 10
    assert min(per_intent.values()) >= 40
    assert len({e.text.lower() for e in crypto}) == len(crypto)


def test_without_removes_one_occurrence_per_row(small_examples: list[Example]) -> None:
    first, second = small_examples[0], small_examples[1]
    assert without([first, first, second], [first]) == [first, second]
    with pytest.raises(ValueError, match="not in the examples"):
        without([first], [second])


def test_dev_holdout_comes_from_the_training_data(all_examples: list[Example]) -> None:
    holdout = read_examples(DEV_HOLDOUT_CSV)
    assert len(without(all_examples, holdout)) == len(all_examples) - len(holdout)
    assert {e.source for e in holdout} == {BANKING77_CSV.stem, CRYPTO_CSV.stem}
