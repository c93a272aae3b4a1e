"""The second opinion for uncertain texts: a linear layer over sentence embeddings.

Texts whose TF-IDF team confidence is below `gate` are embedded (router.classifier.encoder)
and their intent logits become `T_head * (tfidf_scores + embedding @ weights + bias)`. Only
those texts pay for the transformer (about 100x the cost of TF-IDF per text), so the router
keeps TF-IDF's speed on the confident majority while the uncertain minority, where TF-IDF makes
most of its mistakes, gets the encoder's view of meaning (MODEL_CARD.md has the trade-off).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class EmbeddingHead:
    encoder: str
    """ENCODER_ID of the encoder the weights were fitted on; loading checks it."""
    weights: npt.NDArray[np.float32]
    """embedding dimensions x intents."""
    bias: npt.NDArray[np.float32]
    inverse_temperature: float
    gate: float
    """Texts whose TF-IDF team confidence is below this are embedded."""

    def scores(self, embeddings: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.asarray(embeddings @ self.weights + self.bias, dtype=np.float64)

    def to_data(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder,
            "weights": self.weights,
            "bias": self.bias,
            "inverse_temperature": self.inverse_temperature,
            "gate": self.gate,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EmbeddingHead:
        return cls(
            encoder=str(data["encoder"]),
            weights=np.asarray(data["weights"], dtype=np.float32),
            bias=np.asarray(data["bias"], dtype=np.float32),
            inverse_temperature=float(data["inverse_temperature"]),
            gate=float(data["gate"]),
        )
