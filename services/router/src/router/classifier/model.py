"""Fitting the team classifier (scikit-learn), exported to the numpy-only serving form.

Method: word 1-2-gram and char_wb 2-5-gram TF-IDF (sublinear tf), an L2-regularised logistic
regression over intents (one-vs-rest, trained by SGD), temperature scaling fitted on
cross-validated scores (`CalibratedClassifierCV(method="temperature", ensemble=False)`), and team
probabilities as sums of intent probabilities. MODEL_CARD.md has the comparison that chose it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from router.classifier.data import Example
from router.classifier.runtime import TfidfFeatures, TfidfTeamClassifier

VERSION_PREFIX = "tfidf-lr"


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Everything that shapes the model; hashed into its version."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 1
    alpha: float = 1e-5
    """L2 penalty of the logistic regression."""
    max_iter: int = 50
    calibration_folds: int = 5
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def data_fingerprint(examples: Sequence[Example], params: ModelParams) -> str:
    """sha256 over the parameters and the training rows, in order."""
    digest = hashlib.sha256(json.dumps(params.describe(), sort_keys=True).encode())
    for e in examples:
        digest.update(json.dumps([e.text, e.intent, e.team]).encode() + b"\n")
    return digest.hexdigest()


def model_version(examples: Sequence[Example], params: ModelParams) -> str:
    return f"{VERSION_PREFIX}-{data_fingerprint(examples, params)[:12]}"


def intent_team_map(examples: Sequence[Example]) -> dict[str, str]:
    """Each intent's team; an intent labelled with two teams is a data error."""
    mapping: dict[str, str] = {}
    for e in examples:
        if e.intent is None:
            raise ValueError(f"training row without an intent: {e.text[:60]!r}")
        if mapping.setdefault(e.intent, e.team) != e.team:
            raise ValueError(f"intent {e.intent!r} maps to {mapping[e.intent]!r} and {e.team!r}")
    return mapping


def pipeline(params: ModelParams) -> Pipeline:
    def tfidf(analyzer: str, ngrams: tuple[int, int]) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, min_df=params.min_df
        )

    features = FeatureUnion(
        [
            ("word", tfidf("word", params.word_ngrams)),
            ("char", tfidf("char_wb", params.char_ngrams)),
        ]
    )
    linear = SGDClassifier(
        loss="log_loss", alpha=params.alpha, max_iter=params.max_iter, random_state=params.seed
    )
    return Pipeline([("features", features), ("linear", linear)])


def fit(
    examples: Sequence[Example], params: ModelParams = ModelParams(), n_jobs: int = 1
) -> TfidfTeamClassifier:
    """Fit on `examples` (each with an intent). Deterministic for the same examples and params
    (seeded folds and SGD); `n_jobs` (parallel calibration folds) changes only the speed."""
    mapping = intent_team_map(examples)
    texts = [e.text for e in examples]
    intents = np.array([e.intent for e in examples])
    folds = StratifiedKFold(params.calibration_folds, shuffle=True, random_state=params.seed)
    calibrated = CalibratedClassifierCV(
        pipeline(params), method="temperature", cv=folds, ensemble=False, n_jobs=n_jobs
    )
    calibrated.fit(texts, intents)
    (fitted,) = calibrated.calibrated_classifiers_
    (temperature,) = fitted.calibrators
    union: FeatureUnion = fitted.estimator.named_steps["features"]
    linear: SGDClassifier = fitted.estimator.named_steps["linear"]
    features = [
        TfidfFeatures(
            analyzer=vectorizer.analyzer,
            ngram_range=vectorizer.ngram_range,
            vocabulary={str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        )
        for _, vectorizer in union.transformer_list
    ]
    sources: dict[str, int] = {}
    for e in examples:
        sources[e.source] = sources.get(e.source, 0) + 1
    return TfidfTeamClassifier(
        version=model_version(examples, params),
        features=features,
        weights=np.ascontiguousarray(linear.coef_.T, dtype=np.float32),
        bias=np.asarray(linear.intercept_, dtype=np.float32),
        inverse_temperature=float(temperature.beta_),
        intents=[str(c) for c in calibrated.classes_],  # the inner model sees 0..k-1
        intent_teams=mapping,
        metadata={
            "params": params.describe(),
            "examples": len(examples),
            "sources": sources,
            "data_sha256": data_fingerprint(examples, params),
            "scikit_learn": sklearn.__version__,
        },
    )
