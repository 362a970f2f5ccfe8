"""The int8 quality gate: measure fp32 and int8 ONNX on the same examples, decide what to serve.

Both models are run through the app's own inference code (`inference.py`), so the figures
describe exactly what the server answers.
"""

from __future__ import annotations

import math
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
    split_rows: int | None = None
    """Rows of the whole split when `examples` are a sample of it (None: every row)."""
    sample_margin_points: float | None = None
    """For a sample: the 95% half-width, in metric points, of how far the sample's points
    lost may be from the whole split's (see `sample_margin`); 0 when every row was measured."""

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
            "split_rows": self.split_rows,
            "sample_margin_points": self.sample_margin_points,
        }


def _forward(
    predictor: Any, inputs: list[Any], batch: int | None, pretok: bool = False, workers: int = 1
) -> list:
    """Raw outputs, the inputs sent in requests of `batch` (each is micro-batched as served;
    None: all at once, in the length-sorted runs `forward` makes).

    workers: requests run side by side in this many threads on the predictor's one session
    (onnxruntime runs a session from several threads at once and releases the GIL): with a
    single-threaded session per worker, no core spins waiting for a batch of one.
    """
    from etbuilder.package.app_template.inference import chunks

    encodings = predictor.encode(inputs, pretokenized=pretok)
    if batch is None:
        groups = chunks([len(e.ids) for e in encodings])
    else:
        groups = [
            list(range(s, min(s + batch, len(encodings)))) for s in range(0, len(encodings), batch)
        ]

    def run(group: list[int]) -> list[Any]:
        return list(predictor.forward([encodings[i] for i in group]))

    if workers > 1 and len(groups) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers, thread_name_prefix="gate") as pool:
            answers = list(pool.map(run, groups))
    else:
        answers = [run(g) for g in groups]
    out: list[Any] = [None] * len(encodings)
    for group, answer in zip(groups, answers, strict=True):
        for index, value in zip(group, answer, strict=True):
            out[index] = value
    return out


def task_outputs(
    predictor: Any, evalset: EvalSet, batch: int | None = None, workers: int = 1
) -> list[Any]:
    """Per example: class index, multi-hot row, float, tag-name list or vector (pairs: cosine).

    batch: run the inputs in requests of this many (int8's activation scales depend on the
    batch), None for all at once. workers: requests run side by side (see `_forward`).
    """
    output = TASK_RULES[predictor.task].output
    if output == "entities":
        encodings = predictor.encode(evalset.inputs, pretokenized=True)
        raw = _forward(predictor, evalset.inputs, batch, pretok=True, workers=workers)
        out = []
        for words, enc, logits in zip(evalset.inputs, encodings, raw, strict=True):
            tags = ["O"] * len(words)
            for word, tag, _ in predictor.word_tags(logits, enc):
                tags[word] = predictor.labels[tag]
            out.append(tags)
        return out
    if output == "vector" and evalset.inputs and isinstance(evalset.inputs[0], list):
        a = np.stack(_forward(predictor, [x[0] for x in evalset.inputs], batch, workers=workers))
        b = np.stack(_forward(predictor, [x[1] for x in evalset.inputs], batch, workers=workers))
        return list(_cosine(a, b))
    raw = _forward(predictor, evalset.inputs, batch, workers=workers)
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
    workers: int = 1,
) -> Measurement:
    """Run both predictors on `evalset` (int8 in requests of `batch`); the task metric needs
    gold targets. fp32_outputs: fp32's `task_outputs`, when already computed."""
    m = Measurement(evalset.source, len(evalset.inputs), metric, batch=batch)
    a = fp32_outputs if fp32_outputs is not None else task_outputs(fp32, evalset, None, workers)
    b = task_outputs(int8, evalset, batch, workers)
    m.agreement, m.agreement_kind = _agreement(fp32.task, a, b)
    m.split_rows = evalset.total
    if m.agreement is not None and m.agreement_kind == "label agreement":
        m.sample_margin_points = sample_margin(m.agreement, m.examples, evalset.total)
    if evalset.targets is not None:
        m.fp32 = _metrics(fp32, evalset.targets, a, metric)
        m.int8 = _metrics(fp32, evalset.targets, b, metric)
    return m


def sample_margin(agreement: float, rows: int, split_rows: int | None) -> float:
    """95% half-width, in points, of the points lost measured on `rows` sampled (without
    replacement) from `split_rows`, from the share of labels int8 changes.

    Per row, int8 gains (+1), loses (-1) or keeps (0) a correct label against fp32; the
    variance of that difference is at most the share of changed labels d, so the sample mean
    is within 1.96 * sqrt(d / n * (N - n) / (N - 1)) of the split's with 95% confidence. Exact
    for accuracy; for other label metrics (F1) an approximation of the same size. 0 when every
    row was measured (`split_rows` None or equal to `rows`).
    """
    if not split_rows or split_rows <= rows or rows <= 0:
        return 0.0
    changed = max(0.0, 1.0 - agreement)
    finite = (split_rows - rows) / (split_rows - 1)
    return round(1.96 * math.sqrt(changed / rows * finite) * 100, 3)


def decide(
    quantization: str,
    m: Measurement | None,
    direction: str,
    note: str = "no test examples",
    points_allowed: float = GATE_POINTS,
) -> tuple[str, str]:
    """('int8' | 'fp32', why) under `deploy.quantization`; `note`: why `m` is missing;
    points_allowed: the largest loss against fp32 that still serves int8."""
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
        if points <= points_allowed:
            return "int8", f"int8 is within {points_allowed:g} point of fp32 ({figures})"
        return (
            "fp32",
            f"int8 loses {points:.2f} points, over the {points_allowed:g} allowed ({figures})",
        )
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
