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
    """fp32 vs int8 on one evaluation set, int8 run in requests of `batch` inputs."""

    source: str
    examples: int
    metric: str
    fp32: dict[str, float] = field(default_factory=dict)
    int8: dict[str, float] = field(default_factory=dict)
    agreement: float | None = None
    agreement_kind: str = ""
    batch: int | None = None
    """Inputs per request int8 ran in (None: the whole set at once)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "examples": self.examples,
            "metric": self.metric,
            "batch": self.batch,
            "fp32": self.fp32,
            "int8": self.int8,
            "agreement": self.agreement,
            "agreement_kind": self.agreement_kind,
        }


def _forward(predictor: Any, inputs: list[Any], batch: int | None, pretok: bool = False) -> list:
    """Raw outputs, the inputs sent in requests of `batch` (each is micro-batched as served)."""
    encodings = predictor.encode(inputs, pretokenized=pretok)
    if batch == 1 and len(encodings) > 1 and getattr(predictor, "threads", 1) > 1:
        return _forward_singles(predictor, encodings)
    step = batch or max(len(encodings), 1)
    out: list[Any] = []
    for start in range(0, len(encodings), step):
        out.extend(predictor.forward(encodings[start : start + step]))
    return out


def _forward_singles(predictor: Any, encodings: list[Any]) -> list[Any]:
    """Batch 1, one input per run, with one single-threaded run per core side by side: a
    batch of one keeps a multi-threaded session's threads mostly waiting (the answers are the
    same: each input is still run alone)."""
    from concurrent.futures import ThreadPoolExecutor

    single = type(predictor)(predictor.app_dir, predictor.model_file, threads=1)
    with ThreadPoolExecutor(predictor.threads) as pool:
        return list(pool.map(lambda e: single.forward([e])[0], encodings))


def task_outputs(predictor: Any, evalset: EvalSet, batch: int | None = None) -> list[Any]:
    """Per example: class index, multi-hot row, float, tag-name list or vector (pairs: cosine).

    batch: run the inputs in requests of this many (int8's activation scales depend on the
    batch), None for all at once.
    """
    output = TASK_RULES[predictor.task].output
    if output == "entities":
        encodings = predictor.encode(evalset.inputs, pretokenized=True)
        raw = _forward(predictor, evalset.inputs, batch, pretok=True)
        out = []
        for words, enc, logits in zip(evalset.inputs, encodings, raw, strict=True):
            tags = ["O"] * len(words)
            for word, tag, _ in predictor.word_tags(logits, enc):
                tags[word] = predictor.labels[tag]
            out.append(tags)
        return out
    if output == "vector" and evalset.inputs and isinstance(evalset.inputs[0], list):
        a = np.stack(_forward(predictor, [x[0] for x in evalset.inputs], batch))
        b = np.stack(_forward(predictor, [x[1] for x in evalset.inputs], batch))
        return list(_cosine(a, b))
    raw = _forward(predictor, evalset.inputs, batch)
    if output == "label":
        return [int(np.argmax(r)) for r in raw]
    if output == "labels":
        threshold = float(predictor.options.get("threshold", 0.5))
        return [(1.0 / (1.0 + np.exp(-r)) >= threshold).astype(np.int64) for r in raw]
    if output == "value":
        return [float(r.reshape(-1)[0]) for r in raw]
    return list(raw)


def measure(
    fp32: Any,
    int8: Any,
    evalset: EvalSet,
    metric: str,
    batch: int | None = None,
    fp32_outputs: list[Any] | None = None,
) -> Measurement:
    """Run both predictors on `evalset` (int8 in requests of `batch`); the task metric needs
    gold targets. fp32_outputs: fp32's `task_outputs`, when already computed."""
    m = Measurement(evalset.source, len(evalset.inputs), metric, batch=batch)
    a = fp32_outputs if fp32_outputs is not None else task_outputs(fp32, evalset)
    b = task_outputs(int8, evalset, batch)
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
        at = f" at batch {m.batch}" if m.batch else ""
        figures = f"{m.metric} fp32 {f:.4f}, int8 {q:.4f}{at} on {m.source}"
        if points <= GATE_POINTS:
            return "int8", f"int8 is within {GATE_POINTS} point of fp32 ({figures})"
        return "fp32", f"int8 loses {points:.2f} points, over the {GATE_POINTS} allowed ({figures})"
    if m.agreement is not None:
        figure = f"{m.agreement_kind} {m.agreement:.4f} on {m.examples} unlabelled examples"
        figure += f" at batch {m.batch}" if m.batch else ""
        if m.agreement >= AGREEMENT_FLOOR:
            return "int8", f"no gold labels; int8 agrees with fp32 ({figure})"
        return "fp32", f"no gold labels and int8 agrees too little with fp32 ({figure})"
    return "fp32", "int8 could not be compared with fp32, so fp32 is served"


def points_lost(m: Measurement, direction: str) -> float | None:
    """How many points int8 loses against fp32 on the task metric (None: no gold labels)."""
    if not (m.fp32 and m.int8 and m.metric in m.fp32 and m.metric in m.int8):
        return None
    f, q = m.fp32[m.metric], m.int8[m.metric]
    loss = (f - q) if direction == "maximize" else (q - f)
    return loss / abs(f) * 100 if m.metric in UNBOUNDED and f else loss * 100


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
