"""What the router needs from a classifier: light on purpose (no numpy, no scikit-learn), so the
pure domain can import it without loading a model stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

INTENT_RANKING = 10
"""How many intents a prediction lists (the category suggestions read them)."""


@dataclass(frozen=True, slots=True)
class Prediction:
    team: str
    """Most probable team."""
    intent: str | None
    """Most probable intent (a BANKING77 category or one of the crypto intents)."""
    confidence: float
    """Calibrated probability of `team`."""
    ranking: tuple[tuple[str, float], ...]
    """Every team the model knows, most probable first; the probabilities sum to ~1."""
    intents: tuple[tuple[str, float], ...] = ()
    """The most probable intents (up to INTENT_RANKING), most probable first; the rest of the
    probability is spread over intents not listed. Empty when the classifier does not say."""

    def probability(self, team: str) -> float:
        """The model's probability of `team` (0 for a team it does not know)."""
        return next((p for t, p in self.ranking if t == team), 0.0)


class TeamClassifier(Protocol):
    version: str
    """Names the artifact, e.g. "tfidf-lr-<12 hex of sha256(training data + parameters)>"."""

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order, computed for the whole batch at once."""
        ...
