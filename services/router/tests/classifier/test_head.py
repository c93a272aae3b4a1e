"""The embedding head's nearest-neighbour vote."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from router.classifier.head import VOTE_SMOOTHING, neighbour_scores

pytestmark = pytest.mark.unit


def unit(*rows: list[float]) -> npt.NDArray[np.float32]:
    matrix = np.asarray(rows, dtype=np.float32)
    return np.asarray(matrix / np.linalg.norm(matrix, axis=1, keepdims=True), dtype=np.float32)


NEIGHBOURS = unit([1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1])
INTENTS = np.array([0, 0, 1, 1])


def test_the_nearest_neighbours_intent_wins_and_absent_intents_get_the_floor() -> None:
    scores = neighbour_scores(unit([1, 0.05, 0], [0.05, 1, 0]), NEIGHBOURS, INTENTS, 3, 2, 20.0)
    assert scores.shape == (2, 3)
    assert scores[0].argmax() == 0
    assert scores[1].argmax() == 1
    # intent 2 has no neighbour at all: a bounded penalty, not minus infinity
    np.testing.assert_allclose(scores[:, 2], np.log(VOTE_SMOOTHING))


def test_similarity_weighs_the_vote() -> None:
    """With all four neighbours voting, the closer pair outweighs the farther one."""
    query = unit([1, 0.8, 0])
    sharp = neighbour_scores(query, NEIGHBOURS, INTENTS, 2, 4, 20.0)[0]
    flat = neighbour_scores(query, NEIGHBOURS, INTENTS, 2, 4, 0.0)[0]
    assert sharp[0] > sharp[1]
    assert flat[0] == pytest.approx(flat[1])  # sharpness 0: a plain majority, here a tie


def test_k_larger_than_the_neighbours_and_large_batches() -> None:
    queries = np.repeat(unit([0, 1, 0.01]), 2500, axis=0)  # more than one block of rows
    scores = neighbour_scores(queries, NEIGHBOURS, INTENTS, 2, 50, 20.0)
    assert scores.shape == (2500, 2)
    assert (scores.argmax(axis=1) == 1).all()
