"""The numpy serving path reproduces the scikit-learn pipeline it was exported from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold

from router.classifier import load_classifier
from router.classifier.data import Example
from router.classifier.model import ModelParams, fit, pipeline
from router.classifier.runtime import TfidfTeamClassifier, char_wb_ngrams, softmax, word_ngrams

pytestmark = pytest.mark.unit

ODD_TEXTS = [
    "",
    "   ",
    "a",
    "Hi!!\n\nmy  card\tis   stuck",
    "ÉTÉ café ñ 2FA — résumé",
    "zzzz qqqq xkcd",
    "I can't log in, error 0x0003 on https://example.com/login?x=1",
    "2fa 2fa 2fa 2fa 2fa",
]


def test_analyzers_match_scikit_learn(all_examples: list[Example]) -> None:
    texts = [e.text for e in all_examples[::7]] + ODD_TEXTS
    word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2)).build_analyzer()
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert [word_ngrams(t, 1, 2) for t in texts] == [word(t) for t in texts]
    assert [char_wb_ngrams(t, 2, 5) for t in texts] == [char(t) for t in texts]
    word13 = TfidfVectorizer(analyzer="word", ngram_range=(2, 3)).build_analyzer()
    assert [word_ngrams(t, 2, 3) for t in texts] == [word13(t) for t in texts]


def test_probabilities_match_the_scikit_learn_pipeline(
    small_examples: list[Example], small_params: ModelParams, all_examples: list[Example]
) -> None:
    """The TF-IDF part against scikit-learn's own temperature scaling on the same folds (our
    temperature comes from another optimiser, hence the tolerance)."""
    tfidf_only = fit(small_examples, replace(small_params, embedding_gate=0.0))
    assert tfidf_only.head is None
    folds = StratifiedKFold(small_params.calibration_folds, shuffle=True, random_state=0)
    reference = CalibratedClassifierCV(
        pipeline(small_params), method="temperature", cv=folds, ensemble=False
    ).fit([e.text for e in small_examples], [e.intent for e in small_examples])
    texts = [e.text for e in all_examples[::20]] + ODD_TEXTS
    intent_p, _ = tfidf_only.predict_proba(texts)
    assert list(reference.classes_) == list(tfidf_only.intents)
    np.testing.assert_allclose(intent_p, reference.predict_proba(texts), atol=1e-4)


def test_the_gate_decides_which_texts_are_embedded(
    small_model: TfidfTeamClassifier, all_examples: list[Example]
) -> None:
    head = small_model.head
    assert head is not None
    texts = [e.text for e in all_examples[::50]] + ODD_TEXTS
    scores = small_model.scores(texts)
    tfidf_p = softmax(scores * small_model.inverse_temperature)
    tfidf_confidence = (tfidf_p @ small_model._membership).max(axis=1)
    intent_p, team_p = small_model.predict_proba(texts)
    kept = tfidf_confidence >= head.gate
    assert 0 < kept.sum() < len(texts)
    np.testing.assert_array_equal(intent_p[kept], tfidf_p[kept])
    assert not np.allclose(intent_p[~kept], tfidf_p[~kept])
    np.testing.assert_allclose(team_p.sum(axis=1), 1.0)


def test_predictions_are_complete_rankings(small_model: TfidfTeamClassifier) -> None:
    texts = ["my card has not arrived", "I lost my authenticator and can't log in", ""]
    predictions = small_model.predict(texts)
    assert len(predictions) == len(texts)
    for p in predictions:
        teams = [t for t, _ in p.ranking]
        probabilities = [q for _, q in p.ranking]
        assert sorted(teams) == sorted(small_model.teams)
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0)
        assert (p.team, p.confidence) == p.ranking[0]
        assert p.intent in small_model.intents
    assert predictions[0].team == "cards"
    assert predictions[1].team == "security"


def test_empty_batch(small_model: TfidfTeamClassifier) -> None:
    assert small_model.predict([]) == []


def test_batch_and_single_predictions_agree(small_model: TfidfTeamClassifier) -> None:
    texts = ["my card has not arrived", "withdrawal pending for 3 hours", "api key invalid"]
    batch = small_model.predict(texts)
    singles = [small_model.predict([t])[0] for t in texts]
    for b, s in zip(batch, singles, strict=True):
        assert b.team == s.team
        assert b.confidence == pytest.approx(s.confidence)


def test_save_and_load_round_trip(small_model: TfidfTeamClassifier, tmp_path: Path) -> None:
    path = tmp_path / "model" / "model.joblib"
    small_model.save(path)
    loaded = load_classifier(path)
    assert loaded.version == small_model.version
    texts = ["I want to change the e-mail of my account", "my order was not filled"]
    assert loaded.predict(texts) == small_model.predict(texts)


def test_the_gate_can_be_set_when_serving(small_model: TfidfTeamClassifier, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    small_model.save(path)
    texts = [*ODD_TEXTS, "my card has not arrived"]

    tfidf_only = load_classifier(path, embedding_gate=0)
    assert isinstance(tfidf_only, TfidfTeamClassifier)
    assert tfidf_only.head is None
    assert tfidf_only.encoder is None
    assert tfidf_only.version == f"{small_model.version}-gate0"
    tfidf_p = softmax(small_model.scores(texts) * small_model.inverse_temperature)
    np.testing.assert_array_equal(tfidf_only.predict_proba(texts)[0], tfidf_p)

    everything = load_classifier(path, embedding_gate=1.0)
    assert isinstance(everything, TfidfTeamClassifier)
    assert everything.head is not None
    assert everything.head.gate == 1.0
    assert not np.allclose(everything.predict_proba(texts)[0], tfidf_p)  # all re-scored
    assert load_classifier(path).version == small_model.version  # the trained gate


def test_a_head_whose_encoder_model_does_not_match_its_id_is_refused(
    small_model: TfidfTeamClassifier, tmp_path: Path
) -> None:
    artifact = small_model.to_artifact()
    artifact["head"]["encoder_model"] = artifact["head"]["encoder_model"][:-1] + b"x"
    path = tmp_path / "model.joblib"
    joblib.dump(artifact, path)
    with pytest.raises(ValueError, match="corrupt"):
        load_classifier(path)


@pytest.mark.parametrize("content", [{"format": 99}, {"format": 2}, ["not", "a", "model"]])
def test_loading_something_else_fails_clearly(tmp_path: Path, content: object) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(content, path)
    with pytest.raises(ValueError, match="retrain"):
        load_classifier(path)
