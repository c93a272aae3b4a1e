"""The router's learned team classifier.

Importing this package is cheap: `Prediction` and `TeamClassifier` come from `types` (no
numpy, no scikit-learn); loading and training import the model stack when called.

    uv run python -m router.classifier.train      # writes services/router/model/model.joblib
    uv run python -m router.classifier.evaluate --data FILE.csv --wrong 0.25
    uv run python -m router.classifier.crossval   # cross-validated figures, as JSON
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from router.classifier.types import Prediction, TeamClassifier

if TYPE_CHECKING:
    from router.classifier.model import ModelParams
    from router.classifier.train import TrainingResult

__all__ = ["Prediction", "TeamClassifier", "load_classifier", "train"]


def load_classifier(path: Path, *, embedding_gate: float | None = None) -> TeamClassifier:
    """The classifier that `train` saved at `path`, optionally served with another embedding
    gate (0: TF-IDF alone)."""
    from router.classifier.runtime import load

    return load(path, embedding_gate=embedding_gate)


def train(
    output: Path,
    *,
    files: Sequence[Path] | None = None,
    params: ModelParams | None = None,
    n_jobs: int = 2,
) -> TrainingResult:
    """Fit on the shipped training data (or `files`) and write the artifact to `output`."""
    from router.classifier.train import train as _train

    return _train(output, files=files, params=params, n_jobs=n_jobs)
