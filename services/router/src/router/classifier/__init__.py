"""The router's learned team classifier.

Importing this package is cheap: `Prediction` and `TeamClassifier` come from `types` (no
numpy, no scikit-learn); loading and training import the model stack when called.

    uv run python -m router.classifier.train      # writes services/router/model/model.joblib
    uv run python -m router.classifier.evaluate --data FILE.csv --wrong 0.25
    uv run python -m router.classifier.crossval   # cross-validated figures, as JSON
"""

from __future__ import annotations

from pathlib import Path

from router.classifier.types import Prediction, TeamClassifier

__all__ = ["Prediction", "TeamClassifier", "load_classifier"]
# Training is `router.classifier.train.train` (a function here of the same name would be
# replaced by the submodule the moment anything imports it).


def load_classifier(path: Path, *, embedding_gate: float | None = None) -> TeamClassifier:
    """The classifier that `train` saved at `path`, optionally served with another embedding
    gate (0: TF-IDF alone)."""
    from router.classifier.runtime import load

    return load(path, embedding_gate=embedding_gate)
