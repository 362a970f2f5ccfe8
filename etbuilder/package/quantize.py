"""Dynamic int8 quantization of the fp32 ONNX export (onnxruntime.quantization).

Plain dynamic quantization (every MatMul/Gemm/Gather, per-tensor scales) of minilm-l6 keeps
only ~96% of its labels (96.3% of SST-2 test labels, measured here). What is quantized
here, and why:

* weights per output channel (`per_channel`): one scale per column of each weight matrix,
  so a few large weights do not flatten the rest;
* only MatMul nodes whose second input is a constant weight (`MatMulConstBOnly`): the
  attention products of two activations stay fp32;
* the word-embedding table (Gather) only in the `embeddings` recipe: it costs no compute but
  is half of a small encoder's bytes (minilm-l6: 47 of 87 MB); 8-bit rows perturb every token
  vector a little, so the quality gate decides whether it is served;
* not the feed-forward output projections (the MatMul after each GELU): their inputs are
  long-tailed, and 8-bit per-tensor activations lose most accuracy there (minilm-l6 on SST-2:
  98.97% -> 99.54% label agreement when kept fp32);
* not the task head (pooler and classifier/score layers): they are tiny, and their error
  lands directly on the decision.

The last recipe, `int8-static`, is tried when both dynamic ones miss the gate: static
quantization calibrated on training texts (onnxruntime `quantize_static`, min/max of each
quantized MatMul input over a few hundred training texts, QDQ format). Its activation scales
are fixed at packaging time instead of computed per batch, so its answers do not move with how
requests are batched, and a batch's outlier no longer flattens the rest of the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GELU_OPS = frozenset({"Gelu", "FastGelu", "BiasGelu"})
STOP_OPS = frozenset(
    {"LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization"}
)


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    settings: dict[str, Any] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    bytes_fp32: int = 0
    bytes_int8: int = 0


def head_nodes(model: Any) -> list[str]:
    """MatMul/Gemm nodes between the encoder's last LayerNorm and the outputs (the task head)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    found: list[str] = []
    seen: set[str] = set()
    stack = [o.name for o in model.graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in seen or node.op_type in STOP_OPS:
            continue
        seen.add(node.name)
        if node.op_type in ("MatMul", "Gemm"):
            found.append(node.name)
        stack.extend(node.input)
    return found if len(found) <= 4 else []


def ffn_down_nodes(model: Any) -> list[str]:
    """MatMuls fed by a GELU: the feed-forward output projections, whose inputs have outliers.

    Quantizing their (long-tailed, per-tensor) activations to 8 bits costs the most accuracy.
    """
    producer = {out: node for node in model.graph.node for out in node.output}

    def after_gelu(name: str) -> bool:
        node = producer.get(name)
        if node is None:
            return False
        if node.op_type in GELU_OPS:
            return True
        # A decomposed GELU: x * 0.5 * (1 + erf(x / sqrt 2)) ends in a Mul near an Erf.
        if node.op_type != "Mul":
            return False
        frontier = list(node.input)
        for _ in range(3):
            nodes = [producer[n] for n in frontier if n in producer]
            if any(n.op_type == "Erf" for n in nodes):
                return True
            frontier = [i for n in nodes for i in n.input]
        return False

    return [n.name for n in model.graph.node if n.op_type == "MatMul" and after_gelu(n.input[0])]


@dataclass(frozen=True)
class Recipe:
    """One way to quantize; the quality gate tries them in `RECIPES` order."""

    name: str
    embeddings: bool
    """Quantize the word-embedding table (int8 Gather) too."""
    note: str
    method: str = "dynamic"
    """`dynamic` (activation scales per batch) or `static` (calibrated on training texts)."""


RECIPES = (
    Recipe(
        "int8-embeddings",
        True,
        "weight MatMuls per channel and the word embeddings (Gather) in int8",
    ),
    Recipe("int8", False, "weight MatMuls per channel in int8, embeddings fp32"),
    Recipe(
        "int8-static",
        False,
        "weight MatMuls per channel in int8, activation scales calibrated on training texts",
        "static",
    ),
)
"""Smallest first: the first recipe that passes the quality gate is served."""
CALIBRATION_ROWS = 256
"""Training texts the static recipe calibrates its activation ranges on."""
CALIBRATION_BATCH = 16
EMBEDDING_MIN_ROWS = 1000
"""A Gather on a constant table of at least this many rows is a word-embedding lookup
(position and token-type tables are small and stay fp32)."""


def embedding_nodes(model: Any) -> tuple[list[str], list[str]]:
    """(word-embedding Gather nodes, other constant-table Gather nodes)."""
    tables = {i.name: list(i.dims) for i in model.graph.initializer}
    words: list[str] = []
    others: list[str] = []
    for node in model.graph.node:
        if node.op_type == "Gather" and node.input and node.input[0] in tables:
            dims = tables[node.input[0]]
            (words if dims and dims[0] >= EMBEDDING_MIN_ROWS else others).append(node.name)
    return words, others


def quantize_int8(
    fp32_path: Path,
    out_path: Path,
    recipe: Recipe = RECIPES[1],
    calibration: Sequence[dict[str, np.ndarray]] = (),
) -> QuantizeResult:
    """Write the int8 model of `recipe`; returns what was done, for the manifest.

    calibration: model feeds (batches of training texts) a static recipe calibrates on.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(fp32_path), load_external_data=False)
    excluded = head_nodes(model) + ffn_down_nodes(model)
    op_types = ["MatMul"]
    words, other_tables = embedding_nodes(model)
    if recipe.embeddings and words:
        op_types.append("Gather")
        excluded += other_tables
    settings: dict[str, Any] = {
        "recipe": recipe.name,
        "method": "onnxruntime dynamic quantization",
        "weight_type": "int8 (symmetric), activations uint8 per batch",
        "per_channel": True,
        "op_types": op_types,
        "constant_weights_only": True,
        "not_quantized": ("" if "Gather" in op_types else "word embeddings (Gather), ")
        + "position/type embeddings, attention products, feed-forward output "
        "projections (GELU outliers), task head",
    }
    if recipe.method == "static":
        if not calibration:
            raise ValueError("a static recipe needs calibration feeds")
        settings |= {
            "method": "onnxruntime static quantization (QDQ), min/max calibration",
            "weight_type": "int8 (symmetric), activations uint8 with fixed calibrated scales",
            "calibration_batches": len(calibration),
            "calibration_texts": sum(len(next(iter(f.values()))) for f in calibration),
        }
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # a "consider pre-processing" notice for image models
    try:
        if recipe.method == "static":
            _quantize_static(fp32_path, out_path, op_types, excluded, calibration)
        else:
            quantize_dynamic(
                str(fp32_path),
                str(out_path),
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=op_types,
                nodes_to_exclude=excluded,
                extra_options={"MatMulConstBOnly": True},
            )
    finally:
        root.setLevel(level)
    return QuantizeResult(
        out_path,
        settings,
        excluded,
        fp32_path.stat().st_size,
        out_path.stat().st_size,
    )


def _quantize_static(
    fp32_path: Path,
    out_path: Path,
    op_types: list[str],
    excluded: list[str],
    calibration: Sequence[dict[str, np.ndarray]],
) -> None:
    """onnxruntime's static quantization, calibrated by running `calibration` through fp32."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    quantize_static(
        str(fp32_path),
        str(out_path),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=op_types,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        nodes_to_exclude=excluded,
        calibrate_method=CalibrationMethod.MinMax,
        calibration_providers=["CPUExecutionProvider"],
        extra_options={"MatMulConstBOnly": True},
    )


def calibration_feeds(predictor: Any, inputs: Sequence[Any], pretokenized: bool) -> list[dict]:
    """Padded model feeds of `inputs` (texts, pairs or word lists) in batches of
    CALIBRATION_BATCH, tokenized by the app's own code."""
    items: list[Any] = []
    for item in inputs:
        if not predictor.pair and not pretokenized and isinstance(item, list):
            items.extend(item)  # an embedding model scored on pairs takes each side alone
        else:
            items.append(item)
    encodings = predictor.encode(items, pretokenized=pretokenized)
    predictor.truncated = 0
    return [
        predictor.feeds(encodings[start : start + CALIBRATION_BATCH])
        for start in range(0, len(encodings), CALIBRATION_BATCH)
    ]
