"""Fitting the team classifier (scikit-learn), exported to the numpy-only serving form.

Method: word 1-2-gram and char_wb 2-5-gram TF-IDF (sublinear tf), an L2-regularised logistic
regression over intents (one-vs-rest, trained by SGD), temperature scaling fitted on
cross-validated scores, and team probabilities as sums of intent probabilities. With
`embedding_gate` > 0, all-MiniLM-L6-v2 sentence embeddings (router.classifier.head: a
multinomial logistic regression plus a k-nearest-neighbour vote) re-score the texts whose TF-IDF
team confidence is below the gate, with their own temperature fitted on cross-validated scores
of such texts. MODEL_CARD.md has the comparison that chose it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import sklearn
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from router.classifier.data import Example
from router.classifier.head import EmbeddingHead, neighbour_scores
from router.classifier.runtime import Matrix, TfidfFeatures, TfidfTeamClassifier, softmax

if TYPE_CHECKING:
    from router.classifier.encoder import SentenceEncoder

VERSION_PREFIX = "tfidf-minilm-lr"


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
    embedding_gate: float = 0.9
    """Embed texts whose TF-IDF team confidence is below this; 0 turns the encoder off."""
    embedding_c: float = 100.0
    """Inverse L2 penalty of the embedding head's logistic regression."""
    neighbours_k: int = 10
    neighbour_sharpness: float = 20.0
    neighbour_weight: float = 1.0

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def data_fingerprint(
    examples: Sequence[Example], params: ModelParams, encoder: str | None = None
) -> str:
    """sha256 over the parameters, the encoder's id (if any) and the training rows, in order."""
    described = params.describe() | ({"encoder": encoder} if encoder else {})
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode())
    for e in examples:
        digest.update(json.dumps([e.text, e.intent, e.team]).encode() + b"\n")
    return digest.hexdigest()


def model_version(
    examples: Sequence[Example], params: ModelParams, encoder: str | None = None
) -> str:
    prefix = VERSION_PREFIX if params.embedding_gate > 0 else "tfidf-lr"
    return f"{prefix}-{data_fingerprint(examples, params, encoder)[:12]}"


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


def fit_temperature(scores: Matrix, labels: npt.NDArray[np.intp]) -> float:
    """The inverse temperature minimising the log loss of softmax(scores * it)."""

    def loss(log_beta: float) -> float:
        p = softmax(scores * np.exp(log_beta))
        return float(-np.log(p[np.arange(len(labels)), labels] + 1e-12).mean())

    found = minimize_scalar(loss, bounds=(-6.0, 6.0), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(found.x))


def fit_head(
    embeddings: npt.NDArray[np.float32],
    intents: npt.NDArray[np.str_],
    tfidf_oof: Matrix,
    tfidf_beta: float,
    membership: Matrix,
    folds: StratifiedKFold,
    params: ModelParams,
    encoder: SentenceEncoder,
) -> EmbeddingHead:
    """The embedding head, and its temperature fitted on the out-of-fold combined scores of the
    texts the gate would send to it."""
    # Stored in half precision: round now, so the fitted and the loaded head agree exactly.
    embeddings = embeddings.astype(np.float16).astype(np.float32)
    linear = LogisticRegression(C=params.embedding_c, max_iter=3000)
    oof = cross_val_predict(linear, embeddings, intents, cv=folds, method="decision_function")
    linear.fit(embeddings, intents)
    labels = np.searchsorted(linear.classes_, intents)
    n_intents = len(linear.classes_)
    votes = np.zeros_like(oof)
    for train_rows, test_rows in folds.split(embeddings, intents):
        votes[test_rows] = neighbour_scores(
            embeddings[test_rows],
            embeddings[train_rows],
            labels[train_rows],
            n_intents,
            params.neighbours_k,
            params.neighbour_sharpness,
        )
    team_confidence = (softmax(tfidf_oof * tfidf_beta) @ membership).max(axis=1)
    gated = team_confidence < params.embedding_gate
    if gated.sum() < 100:  # too few to fit a temperature on: use every text
        gated[:] = True
    combined = tfidf_oof + oof + params.neighbour_weight * votes
    beta = fit_temperature(combined[gated], labels[gated])
    return EmbeddingHead(
        encoder=encoder.id,
        encoder_model=encoder.model,
        weights=np.ascontiguousarray(linear.coef_.T, dtype=np.float32),
        bias=np.asarray(linear.intercept_, dtype=np.float32),
        neighbours=embeddings,
        neighbour_intents=labels,
        k=params.neighbours_k,
        sharpness=params.neighbour_sharpness,
        neighbour_weight=params.neighbour_weight,
        inverse_temperature=beta,
        gate=params.embedding_gate,
    )


def fit(
    examples: Sequence[Example],
    params: ModelParams = ModelParams(),
    n_jobs: int = 1,
    encoder: SentenceEncoder | None = None,
) -> TfidfTeamClassifier:
    """Fit on `examples` (each with an intent). Deterministic for the same examples and params
    (seeded folds and SGD, lbfgs, a deterministic encoder); `n_jobs` changes only the speed.
    `encoder` (default: a new one with `n_jobs` threads) lets cross-validation share one."""
    mapping = intent_team_map(examples)
    texts = [e.text for e in examples]
    intents = np.array([e.intent for e in examples])
    folds = StratifiedKFold(params.calibration_folds, shuffle=True, random_state=params.seed)
    tfidf_oof = cross_val_predict(
        pipeline(params), texts, intents, cv=folds, method="decision_function", n_jobs=n_jobs
    )
    fitted = pipeline(params).fit(texts, intents)
    classes = [str(c) for c in fitted.classes_]
    beta = fit_temperature(tfidf_oof, np.searchsorted(fitted.classes_, intents))
    union: FeatureUnion = fitted.named_steps["features"]
    linear: SGDClassifier = fitted.named_steps["linear"]
    features = [
        TfidfFeatures(
            analyzer=vectorizer.analyzer,
            ngram_range=vectorizer.ngram_range,
            vocabulary={str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        )
        for _, vectorizer in union.transformer_list
    ]
    head = None
    if params.embedding_gate > 0:
        from router.classifier.encoder import SentenceEncoder

        encoder = encoder or SentenceEncoder(threads=n_jobs)
        membership = np.array(
            [[mapping[c] == t for t in sorted(set(mapping.values()))] for c in classes],
            dtype=np.float64,
        )
        head = fit_head(
            encoder.embed(texts), intents, tfidf_oof, beta, membership, folds, params, encoder
        )
    sources: dict[str, int] = {}
    for e in examples:
        sources[e.source] = sources.get(e.source, 0) + 1
    encoder_name = head.encoder if head is not None else None
    return TfidfTeamClassifier(
        version=model_version(examples, params, encoder_name),
        features=features,
        weights=np.ascontiguousarray(linear.coef_.T, dtype=np.float32),
        bias=np.asarray(linear.intercept_, dtype=np.float32),
        inverse_temperature=beta,
        intents=classes,
        intent_teams=mapping,
        metadata={
            "params": params.describe(),
            "examples": len(examples),
            "sources": sources,
            "data_sha256": data_fingerprint(examples, params, encoder_name),
            "scikit_learn": sklearn.__version__,
        },
        head=head,
        encoder=encoder,
    )
