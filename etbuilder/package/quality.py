"""The int8 quality gate: measure fp32 and int8 ONNX on the same examples, decide what to serve.

Both models are run through the app's own inference code (`inference.py`), so the figures
describe exactly what the server answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from etbuilder.package.evalset import EvalSet
from etbuilder.plan.tasks import TASK_RULES

GATE_POINTS = 0.5
"""int8 is served under `quantization: auto` when its metric is within this many points."""
AGREEMENT_FLOOR = 0.995
"""Without gold labels: the agreement with fp32 that bounds any metric change to 0.5 point."""
UNBOUNDED = frozenset({"mse", "mae", "rmse"})
"""Metrics without a 0..1 scale: a point is then 1% of the fp32 value."""


@dataclass
class Measurement:
    """fp32 vs int8 on one evaluation set."""

    source: str
    examples: int
    metric: str
    fp32: dict[str, float] = field(default_factory=dict)
    int8: dict[str, float] = field(default_factory=dict)
    agreement: float | None = None
    agreement_kind: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "examples": self.examples,
            "metric": self.metric,
            "fp32": self.fp32,
            "int8": self.int8,
            "agreement": self.agreement,
            "agreement_kind": self.agreement_kind,
        }


def task_outputs(predictor: Any, evalset: EvalSet) -> list[Any]:
    """Per example: class index, multi-hot row, float, tag-name list or vector (pairs: cosine)."""
    output = TASK_RULES[predictor.task].output
    if output == "entities":
        encodings = predictor.encode(evalset.inputs, pretokenized=True)
        raw = predictor.forward(encodings)
        out = []
        for words, enc, logits in zip(evalset.inputs, encodings, raw, strict=True):
            tags = ["O"] * len(words)
            for word, tag, _ in predictor.word_tags(logits, enc):
                tags[word] = predictor.labels[tag]
            out.append(tags)
        return out
    if output == "vector" and evalset.inputs and isinstance(evalset.inputs[0], list):
        a = np.stack(predictor.forward(predictor.encode([x[0] for x in evalset.inputs])))
        b = np.stack(predictor.forward(predictor.encode([x[1] for x in evalset.inputs])))
        return list(_cosine(a, b))
    raw = predictor.forward(predictor.encode(evalset.inputs))
    if output == "label":
        return [int(np.argmax(r)) for r in raw]
    if output == "labels":
        threshold = float(predictor.options.get("threshold", 0.5))
        return [(1.0 / (1.0 + np.exp(-r)) >= threshold).astype(np.int64) for r in raw]
    if output == "value":
        return [float(r.reshape(-1)[0]) for r in raw]
    return list(raw)


def measure(fp32: Any, int8: Any, evalset: EvalSet, metric: str) -> Measurement:
    """Run both predictors on `evalset`; the task metric needs gold targets."""
    m = Measurement(evalset.source, len(evalset.inputs), metric)
    a, b = task_outputs(fp32, evalset), task_outputs(int8, evalset)
    m.agreement, m.agreement_kind = _agreement(fp32.task, a, b)
    if evalset.targets is not None:
        m.fp32 = _metrics(fp32, evalset.targets, a, metric)
        m.int8 = _metrics(fp32, evalset.targets, b, metric)
    return m


def decide(
    quantization: str, m: Measurement | None, direction: str, note: str = "no test examples"
) -> tuple[str, str]:
    """('int8' | 'fp32', why) under `deploy.quantization`; `note`: why `m` is missing."""
    if quantization == "none":
        return "fp32", "deploy.quantization is `none`"
    if quantization == "int8":
        return "int8", "deploy.quantization is `int8` (served without the quality gate)"
    if m is None:
        return "fp32", f"int8 was not measured ({note}), so fp32 is served"
    if m.fp32 and m.int8 and m.metric in m.fp32:
        f, q = m.fp32[m.metric], m.int8[m.metric]
        loss = (f - q) if direction == "maximize" else (q - f)
        points = loss / abs(f) * 100 if m.metric in UNBOUNDED and f else loss * 100
        figures = f"{m.metric} fp32 {f:.4f}, int8 {q:.4f} on {m.examples} test examples"
        if points <= GATE_POINTS:
            return "int8", f"int8 is within {GATE_POINTS} point of fp32 ({figures})"
        return "fp32", f"int8 loses {points:.2f} points, over the {GATE_POINTS} allowed ({figures})"
    if m.agreement is not None:
        figure = f"{m.agreement_kind} {m.agreement:.4f} on {m.examples} unlabelled examples"
        if m.agreement >= AGREEMENT_FLOOR:
            return "int8", f"no gold labels; int8 agrees with fp32 ({figure})"
        return "fp32", f"no gold labels and int8 agrees too little with fp32 ({figure})"
    return "fp32", "int8 could not be compared with fp32, so fp32 is served"


def _agreement(task: str, a: list[Any], b: list[Any]) -> tuple[float | None, str]:
    if not a:
        return None, ""
    output = TASK_RULES[task].output
    if output == "label":
        return float(np.mean([x == y for x, y in zip(a, b, strict=True)])), "label agreement"
    if output == "labels":
        same = [bool(np.array_equal(x, y)) for x, y in zip(a, b, strict=True)]
        return float(np.mean(same)), "label-set agreement"
    if output == "entities":
        pairs = [(x, y) for s, t in zip(a, b, strict=True) for x, y in zip(s, t, strict=True)]
        return float(np.mean([x == y for x, y in pairs])) if pairs else None, "tag agreement"
    fa = np.asarray(a, dtype=np.float64)
    fb = np.asarray(b, dtype=np.float64)
    if fa.ndim == 2:
        return float(np.mean(_cosine(fa, fb))), "mean cosine similarity"
    if fa.size < 2 or fa.std() == 0 or fb.std() == 0:
        return float(np.allclose(fa, fb, atol=1e-3)), "outputs equal within 1e-3"
    return float(np.corrcoef(fa, fb)[0, 1]), "pearson correlation of outputs"


def _metrics(predictor: Any, targets: list[Any], preds: list[Any], metric: str) -> dict:
    from etbuilder.report.metrics import compute_metrics

    task, labels = predictor.task, predictor.labels
    output = TASK_RULES[task].output
    if output == "labels":
        index = {name: i for i, name in enumerate(labels)}
        gold = np.zeros((len(targets), len(labels)), dtype=np.int64)
        for row, names in enumerate(targets):
            for name in names:
                if name in index:
                    gold[row, index[name]] = 1
        targets = list(gold)
        preds = [np.asarray(p) for p in preds]
    if output == "vector" and (not preds or np.ndim(preds[0]) != 0):
        return {}
    values = compute_metrics(task, targets, preds, labels=labels)
    keep = {metric, "accuracy", "f1_macro", "f1_micro", "entity_f1", "spearman", "pearson", "mse"}
    return {k: float(v) for k, v in values.items() if k in keep and isinstance(v, int | float)}


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1).clip(min=1e-12)
    nb = np.linalg.norm(b, axis=1).clip(min=1e-12)
    return (a * b).sum(axis=1) / (na * nb)
