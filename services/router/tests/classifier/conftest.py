"""A small, fast model shared by the classifier tests (fitted once per session)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from router.classifier.data import Example, load_examples
from router.classifier.model import ModelParams, fit
from router.classifier.runtime import TfidfTeamClassifier

PER_INTENT = 12
SMALL_PARAMS = ModelParams(calibration_folds=3)


@pytest.fixture(scope="session")
def all_examples() -> list[Example]:
    return load_examples()


@pytest.fixture(scope="session")
def small_examples(all_examples: list[Example]) -> list[Example]:
    """The first PER_INTENT rows of every intent (about 1,000 rows)."""
    taken: dict[str | None, int] = defaultdict(int)
    chosen: list[Example] = []
    for e in all_examples:
        if taken[e.intent] < PER_INTENT:
            taken[e.intent] += 1
            chosen.append(e)
    return chosen


@pytest.fixture(scope="session")
def small_model(small_examples: list[Example]) -> TfidfTeamClassifier:
    return fit(small_examples, SMALL_PARAMS)


@pytest.fixture(scope="session")
def small_params() -> ModelParams:
    return SMALL_PARAMS
