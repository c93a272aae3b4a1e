"""The trained classifier at serving time: numpy and scipy.sparse, no scikit-learn.

Training (router.classifier.model) fits a scikit-learn pipeline and exports what prediction
needs as plain data: the two TF-IDF vocabularies with their idf weights, the linear weights,
the calibration temperature, and optionally the embedding head (router.classifier.head) that
re-scores uncertain texts with sentence embeddings. Serving recomputes the same TF-IDF
features (the analyzers below follow scikit-learn's
`TfidfVectorizer(analyzer="word"|"char_wb", sublinear_tf=True)`, and a test checks both agree
on the training texts) and scores them. Keeping scikit-learn out
of the serving path makes loading fast (importing scikit-learn alone takes seconds) and keeps
the artifact independent of scikit-learn's pickles, which break across its versions.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import joblib
import numpy as np
import numpy.typing as npt
from scipy import sparse

from router.classifier.head import EmbeddingHead
from router.classifier.types import INTENT_RANKING, Prediction

if TYPE_CHECKING:
    from router.classifier.encoder import SentenceEncoder

ARTIFACT_FORMAT = 3
READABLE_FORMATS = (1, 3)  # format 1: TF-IDF only; format 2's head lacked its encoder model
Matrix = npt.NDArray[np.float64]
Analyzer = Literal["word", "char_wb"]

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_WHITE_SPACES = re.compile(r"\s\s+")
_WORD_CACHE_SIZE = 100_000
CHUNK = 2048


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    grams: list[str] = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams inside words, each word padded with one space on both sides; a word
    shorter than n yields itself once (as scikit-learn's char_wb)."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


@dataclass(frozen=True, slots=True)
class TfidfFeatures:
    """One fitted TF-IDF vectorizer (sublinear tf, l2 norm), as data."""

    analyzer: Analyzer
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float64]
    _word_cache: dict[str, list[int]] = field(default_factory=dict, compare=False, repr=False)

    def grams(self, text: str) -> list[str]:
        low, high = self.ngram_range
        if self.analyzer == "word":
            return word_ngrams(text, low, high)
        return char_wb_ngrams(text, low, high)

    def columns(self, text: str) -> list[int]:
        """The vocabulary columns of the text's n-grams, repeated as often as they occur."""
        if self.analyzer == "word":
            found = map(self.vocabulary.get, self.grams(text))
            return [c for c in found if c is not None]
        # char_wb n-grams never cross a word: look each distinct word up once.
        columns: list[int] = []
        cache = self._word_cache
        for word in text.lower().split():
            cached = cache.get(word)
            if cached is None:
                if len(cache) >= _WORD_CACHE_SIZE:
                    cache.clear()
                found = map(self.vocabulary.get, self.grams(word))
                cached = cache[word] = [c for c in found if c is not None]
            columns.extend(cached)
        return columns

    def matrix(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """texts x vocabulary: l2-normalised TF-IDF rows (sublinear tf), as scikit-learn's."""
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            indices.extend(self.columns(text))
            indptr.append(len(indices))
        counts = sparse.csr_matrix(
            (np.ones(len(indices)), indices, indptr), shape=(len(texts), len(self.vocabulary))
        )
        counts.sum_duplicates()
        values = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        rows = np.repeat(np.arange(len(texts)), np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
        counts.data = values / norms[rows]
        return counts

    def to_data(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "ngram_range": list(self.ngram_range),
            "vocabulary": self.vocabulary,
            "idf": self.idf,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TfidfFeatures:
        low, high = data["ngram_range"]
        analyzer = data["analyzer"]
        if analyzer not in ("word", "char_wb"):
            raise ValueError(f"unknown analyzer {analyzer!r}")
        return cls(analyzer, (int(low), int(high)), data["vocabulary"], np.asarray(data["idf"]))


class TfidfTeamClassifier:
    """Calibrated intent probabilities (softmax of temperature-scaled linear scores over
    TF-IDF features; with a `head`, texts under its gate are re-scored with embeddings), and
    team probabilities as the sums of their intents'."""

    def __init__(
        self,
        *,
        version: str,
        features: Sequence[TfidfFeatures],
        weights: npt.NDArray[np.floating[Any]],
        bias: npt.NDArray[np.floating[Any]],
        inverse_temperature: float,
        intents: Sequence[str],
        intent_teams: dict[str, str],
        metadata: dict[str, Any] | None = None,
        head: EmbeddingHead | None = None,
        encoder: SentenceEncoder | None = None,
    ) -> None:
        width = sum(len(f.vocabulary) for f in features)
        if weights.shape != (width, len(intents)) or bias.shape != (len(intents),):
            raise ValueError(
                f"weights {weights.shape} / bias {bias.shape} do not fit "
                f"{width} features x {len(intents)} intents"
            )
        self.version = version
        self.metadata = metadata or {}
        self.head = head
        self.encoder = encoder
        if head is not None:
            from router.classifier.encoder import SentenceEncoder, encoder_id

            if head.encoder != encoder_id(head.encoder_model):
                raise ValueError(f"the head's encoder model is not {head.encoder} (corrupt?)")
            self.encoder = encoder or SentenceEncoder(model=head.encoder_model)
        self.features = tuple(features)
        self.weights = weights
        self.bias = bias
        self.inverse_temperature = float(inverse_temperature)
        self.intents = tuple(intents)
        self.intent_teams = {i: intent_teams[i] for i in self.intents}
        self.teams = tuple(sorted(set(self.intent_teams.values())))
        bounds = np.cumsum([0] + [len(f.vocabulary) for f in self.features])
        self._weight_blocks = [weights[a:b] for a, b in itertools.pairwise(bounds)]
        team_index = {t: k for k, t in enumerate(self.teams)}
        # intents x teams, 1 where the intent belongs to the team: P(teams) = P(intents) @ this
        self._membership = np.zeros((len(self.intents), len(self.teams)))
        for i, intent in enumerate(self.intents):
            self._membership[i, team_index[self.intent_teams[intent]]] = 1.0

    def scores(self, texts: Sequence[str]) -> Matrix:
        """Uncalibrated linear scores, texts x intents."""
        out = np.tile(self.bias.astype(np.float64), (len(texts), 1))
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            for features, weights in zip(self.features, self._weight_blocks, strict=True):
                out[start : start + len(chunk)] += features.matrix(chunk) @ weights
        return out

    def predict_proba(self, texts: Sequence[str]) -> tuple[Matrix, Matrix]:
        """(intent probabilities, team probabilities), one row per text; the columns follow
        `self.intents` and `self.teams`."""
        scores = self.scores(texts)
        intent_p = softmax(scores * self.inverse_temperature)
        team_p = intent_p @ self._membership
        if self.head is not None and self.encoder is not None and len(texts):
            unsure = np.flatnonzero(team_p.max(axis=1) < self.head.gate)
            if len(unsure):
                embeddings = self.encoder.embed([texts[int(i)] for i in unsure])
                combined = scores[unsure] + self.head.scores(embeddings)
                intent_p[unsure] = softmax(combined * self.head.inverse_temperature)
                team_p[unsure] = intent_p[unsure] @ self._membership
        return intent_p, team_p

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        intent_p, team_p = self.predict_proba(texts)
        return predictions_from(intent_p, team_p, self.intents, self.teams)

    def to_artifact(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "version": self.version,
            "features": [f.to_data() for f in self.features],
            "weights": self.weights,
            "bias": self.bias,
            "inverse_temperature": self.inverse_temperature,
            "intents": list(self.intents),
            "intent_teams": self.intent_teams,
            "metadata": self.metadata,
            "head": None if self.head is None else self.head.to_data(),
        }

    def save(self, path: Path) -> None:
        """Write the artifact (plain dicts, lists and numpy arrays) atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        joblib.dump(self.to_artifact(), partial)
        partial.replace(path)


def softmax(logits: Matrix) -> Matrix:
    if not len(logits):
        return np.zeros_like(logits)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(p / p.sum(axis=1, keepdims=True))


def predictions_from(
    intent_p: Matrix, team_p: Matrix, intents: Sequence[str], teams: Sequence[str]
) -> list[Prediction]:
    order = np.argsort(-team_p, axis=1, kind="stable")
    listed = min(INTENT_RANKING, intent_p.shape[1])
    intent_order = np.argsort(-intent_p, axis=1, kind="stable")[:, :listed]
    predictions: list[Prediction] = []
    for row, ranks, intent_row, intent_ranks in zip(
        team_p, order, intent_p, intent_order, strict=True
    ):
        ranking = tuple((teams[j], float(row[j])) for j in ranks)
        top_intents = tuple((intents[j], float(intent_row[j])) for j in intent_ranks)
        predictions.append(
            Prediction(
                team=ranking[0][0],
                intent=top_intents[0][0] if top_intents else None,
                confidence=ranking[0][1],
                ranking=ranking,
                intents=top_intents,
            )
        )
    return predictions


def load(path: Path, *, embedding_gate: float | None = None) -> TfidfTeamClassifier:
    """The saved classifier. `embedding_gate` overrides the trained gate at serve time: the dial
    between accuracy and speed (0 serves TF-IDF alone and does not load the encoder at all)."""
    artifact = joblib.load(path)
    if not isinstance(artifact, dict) or artifact.get("format") not in READABLE_FORMATS:
        found = artifact.get("format") if isinstance(artifact, dict) else type(artifact).__name__
        raise ValueError(
            f"{path}: not a router classifier artifact of format {ARTIFACT_FORMAT} "
            f"(found {found!r}); retrain with `python -m router.classifier.train`"
        )
    head = EmbeddingHead.from_data(artifact["head"]) if artifact.get("head") else None
    version = artifact["version"]
    if head is not None and embedding_gate is not None and embedding_gate != head.gate:
        head = replace(head, gate=embedding_gate) if embedding_gate > 0 else None
        version = f"{version}-gate{embedding_gate:g}"  # decisions say how they were served
    return TfidfTeamClassifier(
        version=version,
        features=[TfidfFeatures.from_data(f) for f in artifact["features"]],
        weights=np.asarray(artifact["weights"]),
        bias=np.asarray(artifact["bias"]),
        inverse_temperature=artifact["inverse_temperature"],
        intents=artifact["intents"],
        intent_teams=artifact["intent_teams"],
        metadata=artifact.get("metadata"),
        head=head,
    )
