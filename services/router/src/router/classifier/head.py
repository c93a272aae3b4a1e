"""The second opinion for uncertain texts: sentence embeddings, read two ways.

Texts whose TF-IDF team confidence is below `gate` are embedded (router.classifier.encoder).
Their intent logits become `T_head * (tfidf_scores + linear + w * neighbours)`:
- `linear`: a logistic regression over the embedding (`weights`, `bias`);
- `neighbours`: the log of a similarity-weighted vote of the k nearest training texts
  (cosine, weights exp(sharpness * (cos - 1))), smoothed so an intent without a neighbour is
  unlikely rather than impossible.
The three read the text differently and err on different texts, so their sum beats each one
(MODEL_CARD.md). Only gated texts pay for the transformer (about 20x the cost of TF-IDF per
text), so the router keeps TF-IDF's speed on the confident majority.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

VOTE_SMOOTHING = 1e-3
"""Added to each intent's vote share before the log: bounds a missing intent's penalty."""
_ROWS_PER_BLOCK = 1024  # bounds the similarity matrix's memory (block x training texts)


def neighbour_scores(
    embeddings: npt.NDArray[np.float32],
    neighbours: npt.NDArray[np.float32],
    neighbour_intents: npt.NDArray[np.intp],
    n_intents: int,
    k: int,
    sharpness: float,
) -> npt.NDArray[np.float64]:
    """texts x intents: log of the smoothed, similarity-weighted intent shares among the k
    most similar `neighbours` (unit vectors, one per training text)."""
    out = np.empty((len(embeddings), n_intents))
    k = min(k, len(neighbours))
    for start in range(0, len(embeddings), _ROWS_PER_BLOCK):
        block = embeddings[start : start + _ROWS_PER_BLOCK]
        similarity = block @ neighbours.T
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        rows = np.repeat(np.arange(len(block)), k)
        weights = np.exp(sharpness * (similarity[rows, nearest.ravel()] - 1.0))
        votes = np.zeros((len(block), n_intents))
        np.add.at(votes, (rows, neighbour_intents[nearest.ravel()]), weights)
        shares = votes / votes.sum(axis=1, keepdims=True)
        out[start : start + len(block)] = np.log(shares + VOTE_SMOOTHING)
    return out


@dataclass(frozen=True, slots=True)
class EmbeddingHead:
    encoder: str
    """encoder_id of `encoder_model`; loading checks the bytes against it."""
    encoder_model: bytes
    """The ONNX encoder the head was fitted with (router.classifier.quantize)."""
    weights: npt.NDArray[np.float32]
    """embedding dimensions x intents."""
    bias: npt.NDArray[np.float32]
    neighbours: npt.NDArray[np.float32]
    """The training texts' embeddings, one row each."""
    neighbour_intents: npt.NDArray[np.intp]
    """Each neighbour's intent (column index)."""
    k: int
    sharpness: float
    neighbour_weight: float
    inverse_temperature: float
    gate: float
    """Texts whose TF-IDF team confidence is below this are embedded."""

    def scores(self, embeddings: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        linear = np.asarray(embeddings @ self.weights + self.bias, dtype=np.float64)
        votes = neighbour_scores(
            embeddings,
            self.neighbours,
            self.neighbour_intents,
            len(self.bias),
            self.k,
            self.sharpness,
        )
        return linear + self.neighbour_weight * votes

    def to_data(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder,
            "encoder_model": self.encoder_model,
            "weights": self.weights,
            "bias": self.bias,
            # half precision halves the artifact; similarities move by < 1e-3
            "neighbours": self.neighbours.astype(np.float16),
            "neighbour_intents": self.neighbour_intents.astype(np.int16),
            "k": self.k,
            "sharpness": self.sharpness,
            "neighbour_weight": self.neighbour_weight,
            "inverse_temperature": self.inverse_temperature,
            "gate": self.gate,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EmbeddingHead:
        return cls(
            encoder=str(data["encoder"]),
            encoder_model=bytes(data["encoder_model"]),
            weights=np.asarray(data["weights"], dtype=np.float32),
            bias=np.asarray(data["bias"], dtype=np.float32),
            neighbours=np.asarray(data["neighbours"], dtype=np.float32),
            neighbour_intents=np.asarray(data["neighbour_intents"], dtype=np.intp),
            k=int(data["k"]),
            sharpness=float(data["sharpness"]),
            neighbour_weight=float(data["neighbour_weight"]),
            inverse_temperature=float(data["inverse_temperature"]),
            gate=float(data["gate"]),
        )
