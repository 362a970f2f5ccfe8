"""The quality gate over quantization recipes, evaluation splits and batch sizes.

int8's activation scales are computed per batch, so its answers move with how requests are
batched: a model measured on one batch composition can miss the promise on another. Each
recipe (`quantize.RECIPES`, smallest first) is compared with fp32 at the server's largest
batch and at batch 1, on every evaluation split (test and validation), and judged by its worst
check; the first recipe whose worst check passes is served, else fp32. fp32 itself is measured
once per split (its answers do not depend on the batch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from etbuilder.package.evalset import EvalSet
from etbuilder.package.quality import GATE_POINTS, Measurement, decide, measure, points_lost
from etbuilder.package.quantize import Recipe


@dataclass
class Verdict:
    """One recipe's checks and whether all passed."""

    recipe: Recipe
    file: str
    checks: list[Measurement] = field(default_factory=list)
    passed: bool = False
    worst: Measurement | None = None
    worst_points: float | None = None
    reason: str = ""

    def as_dict(self, direction: str) -> dict[str, Any]:
        return {
            "recipe": self.recipe.name,
            "what": self.recipe.note,
            "passed": self.passed,
            "worst_points_lost": self.worst_points,
            "checks": [
                m.as_dict() | {"points_lost": points_lost(m, direction)} for m in self.checks
            ],
        }


def judge(
    fp32: Any,
    candidate: Any,
    verdict: Verdict,
    evalsets: Sequence[EvalSet],
    fp32_outputs: dict[str, list[Any]],
    metric: str,
    direction: str,
    batches: Sequence[int],
    workers: int = 1,
    points_allowed: float = GATE_POINTS,
) -> Verdict:
    """Fill `verdict`: every (batch, split) check, stopping at the first that fails.

    workers: requests run side by side in this many threads (see `quality.task_outputs`)."""
    verdict.passed = True
    for batch in batches:
        for evalset in evalsets:
            m = measure(
                fp32, candidate, evalset, metric, batch, fp32_outputs[evalset.source], workers
            )
            verdict.checks.append(m)
            served, why = decide("auto", m, direction, points_allowed=points_allowed)
            if served != "int8":
                verdict.passed, verdict.reason = False, why
                break
        if not verdict.passed:
            break
    verdict.worst = _worst(verdict.checks, direction)
    verdict.worst_points = points_lost(verdict.worst, direction) if verdict.worst else None
    if verdict.passed and verdict.worst is not None:
        verdict.reason = decide("auto", verdict.worst, direction, points_allowed=points_allowed)[1]
    return verdict


def _worst(checks: list[Measurement], direction: str) -> Measurement | None:
    def badness(m: Measurement) -> float:
        lost = points_lost(m, direction)
        if lost is not None:
            return lost
        return -(m.agreement if m.agreement is not None else 1.0)

    return max(checks, key=badness) if checks else None


@dataclass
class GateResult:
    served: str
    """'int8' or 'fp32'."""
    reason: str
    chosen: Verdict | None = None
    tried: list[Verdict] = field(default_factory=list)


def run_gate(
    mode: str,
    recipes: Sequence[Recipe],
    make: Callable[[Recipe], tuple[str, Any] | None],
    fp32: Any,
    evalsets: Sequence[EvalSet],
    metric: str,
    direction: str,
    batches: Sequence[int],
    note: str,
    workers: int = 1,
    points_allowed: float = GATE_POINTS,
) -> GateResult:
    """Try `recipes` in order under `deploy.quantization` = `mode`.

    make(recipe) -> (file, predictor) quantizes on demand (a recipe after the one that
    passes is never built); None skips the recipe (e.g. static without calibration texts).
    note: why there are no evaluation sets, when there are none.
    workers: evaluation requests run side by side in this many threads; the predictors are
    then best single-threaded (one onnxruntime thread per worker, none spinning idle).
    points_allowed: the largest loss against fp32, in points, with which a recipe passes.
    """
    if mode == "none" or not recipes:
        return GateResult("fp32", "deploy.quantization is `none`")
    if not evalsets and mode == "auto":
        return GateResult("fp32", f"int8 was not measured ({note}), so fp32 is served")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="fp32") as pool:
        # fp32 runs (onnxruntime, GIL released) while the first recipe quantizes (Python).
        pending = {e.source: pool.submit(_outputs, fp32, e, workers) for e in evalsets}
        first = make(recipes[0])
        fp32_outputs = {source: future.result() for source, future in pending.items()}
    tried: list[Verdict] = []
    for recipe in recipes:
        made = first if recipe is recipes[0] else make(recipe)
        if made is None:
            continue
        file, predictor = made
        verdict = judge(
            fp32,
            predictor,
            Verdict(recipe, file),
            evalsets,
            fp32_outputs,
            metric,
            direction,
            batches,
            workers,
            points_allowed,
        )
        tried.append(verdict)
        if mode == "int8":
            why = "deploy.quantization is `int8` (served without the quality gate)"
            return GateResult("int8", why, verdict, tried)
        if verdict.passed:
            why = (
                f"int8 ({recipe.name}: {recipe.note}) is within {points_allowed:g} point of fp32 "
                f"in all {len(verdict.checks)} checks (batch {' and '.join(map(str, batches))}"
                f", {len(evalsets)} split(s)); worst: {verdict.reason}"
            )
            return GateResult("int8", why, verdict, tried)
    fails = "; ".join(f"{v.recipe.name}: {v.reason}" for v in tried)
    return GateResult("fp32", f"no int8 recipe passed ({fails}), so fp32 is served", None, tried)


def _outputs(fp32: Any, evalset: EvalSet, workers: int) -> list[Any]:
    from etbuilder.package.quality import task_outputs

    return task_outputs(fp32, evalset, None, workers)
