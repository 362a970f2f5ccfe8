"""Pass `choose_task`: head, loss, label mapping, metric and pooling for the task."""

from __future__ import annotations

from typing import Any, Literal

from etbuilder.compiler.context import CompileContext
from etbuilder.errors import CompileError, DataError
from etbuilder.plan import TaskPlan
from etbuilder.plan.tasks import MINIMIZED, TASK_RULES, label_column, text_columns
from etbuilder.spec.task import EmbeddingTask, Task

IMBALANCE_RATIO = 3.0
"""Majority/minority class count above which classification defaults to f1_macro."""

Pooling = Literal["cls", "mean", "max", "none"]


def sort_labels(labels: list[str]) -> list[str]:
    """Numeric labels in numeric order (`2` before `10`), others alphabetically."""
    try:
        return sorted(labels, key=lambda x: (float(x), x))
    except ValueError:
        return sorted(labels)


def sort_tags(tags: list[str]) -> list[str]:
    """BIO tags: `O` first, then by entity type, B- before I-."""

    def key(tag: str) -> tuple[int, str, str]:
        if tag == "O":
            return (0, "", "")
        prefix, _, kind = tag.partition("-")
        return (1, kind or prefix, prefix if kind else "")

    return sorted(tags, key=key)


def imbalance_ratio(counts: dict[str, int]) -> float:
    """Majority count over minority count (1.0 for fewer than two classes)."""
    values = [v for v in counts.values() if v > 0]
    return max(values) / min(values) if len(values) > 1 else 1.0


def choose_task(ctx: CompileContext) -> CompileContext:
    """Fill in what the task needs: labels in head order, head shape, loss, metric, pooling."""
    task = ctx.spec.task
    rule = TASK_RULES[task.type]
    hidden = ctx.need("backbone").hidden_size
    train = ctx.profile("train")
    counts = dict(train.label_counts) if train is not None else {}
    ctx, pooling = _pooling(ctx)
    ctx, labels = _labels(ctx, counts)
    loss, loss_why, loss_source = rule.loss, f"the standard loss of {task.type}", "default"
    if isinstance(task, EmbeddingTask):
        loss, loss_why, loss_source = _embedding_loss(task)
    head = _head(rule.labels, rule.activation, hidden, len(labels), pooling, task)
    ctx, metric = _metric(ctx, counts)
    knobs: dict[str, Any] = {name: getattr(task, name) for name in rule.options}
    if rule.per_token:
        knobs["subword_labels"] = "first"
    plan = TaskPlan(
        type=task.type,
        text_columns=text_columns(task),
        label_column=label_column(task),
        labels=labels,
        head=head,
        loss=loss,
        metric=metric,
        metric_direction="minimize" if metric in MINIMIZED else "maximize",
        pooling=pooling,
        max_length=ctx.need("max_length"),
        **knobs,
    )
    ctx = ctx.decide("task.head", head, f"the {task.type} head on a {hidden}-wide encoder")
    ctx = ctx.decide("task.loss", loss, loss_why, loss_source)  # type: ignore[arg-type]
    return ctx.replace(task=plan)


def _head(kind: str, activation: str, hidden: int, classes: int, pooling: str, task: Task) -> str:
    if kind == "tags":
        return f"linear({hidden} -> {classes}) per token (first sub-token of each word), softmax"
    if kind == "optional-number":
        norm = ", L2-normalised" if getattr(task, "normalize", False) else ""
        return f"none: {pooling} pooling of the token vectors{norm}"
    outputs = 1 if kind == "number" else classes
    suffix = f", {activation}" if activation != "none" else ""
    return f"linear({hidden} -> {outputs}) on {pooling} pooling{suffix}"


def _pooling(ctx: CompileContext) -> tuple[CompileContext, Pooling]:
    rule = TASK_RULES[ctx.spec.task.type]
    requested = ctx.spec.backbone.pooling
    if rule.pooling == "none":
        return ctx.decide("backbone.pooling", "none", "every token is classified"), "none"
    if requested not in ("auto", "cls") and rule.model == "sequence":
        raise CompileError(
            f"backbone.pooling: {requested} is not available for {ctx.spec.task.type}: its "
            "Hugging Face head reads the first ([CLS]) token; use pooling: auto (a features "
            "strategy chooses its own vector with strategy.pooling)"
        )
    if requested != "auto":
        return ctx.decide("backbone.pooling", requested, "set in the spec", "spec"), requested
    why = (
        "auto: mean pooling gives the best sentence vectors"
        if rule.pooling == "mean"
        else "auto: classifier heads read the first ([CLS]) token"
    )
    return ctx.decide("backbone.pooling", rule.pooling, why, "default"), rule.pooling


def _labels(ctx: CompileContext, counts: dict[str, int]) -> tuple[CompileContext, list[str]]:
    task = ctx.spec.task
    rule = TASK_RULES[task.type]
    if rule.labels in ("number", "optional-number"):
        return ctx, []
    given = getattr(task, "labels", None)
    if given is None:
        labels = sort_tags(list(counts)) if rule.labels == "tags" else sort_labels(list(counts))
        order = "O first, then by entity type" if rule.labels == "tags" else "sorted"
        why = f"the {len(labels)} labels seen in training data, {order}"
        return ctx.decide("task.labels", labels, why, "inferred"), labels
    _check_known(ctx, list(given))
    return ctx.decide("task.labels", list(given), "set in the spec", "spec"), list(given)


def _check_known(ctx: CompileContext, labels: list[str]) -> None:
    """Every label in the data must be in the spec's label list."""
    known = set(labels)
    column = label_column(ctx.spec.task)
    for split in ctx.splits:
        for value, line in zip(split.labels, split.lines, strict=False):
            for label in value if isinstance(value, list | tuple) else [value]:
                if str(label) not in known:
                    raise DataError(
                        f"label {label!r} is not in task.labels {labels}",
                        file=split.file,
                        row=line,
                        column=column,
                        hint="add it to task.labels, or remove task.labels to use the labels "
                        "found in the training data",
                    )


def _embedding_loss(task: EmbeddingTask) -> tuple[str, str, str]:
    """(loss, why, source): cosine on scored pairs, in-batch negatives without labels."""
    if task.loss != "auto":
        return task.loss, "set in the spec", "spec"
    if task.label is None:
        why = "auto: no label column, so the other texts in a batch serve as negatives"
        return "in_batch_negatives", why, "default"
    return "cosine", f"auto: column {task.label!r} scores each pair", "default"


def _metric(ctx: CompileContext, counts: dict[str, int]) -> tuple[CompileContext, str]:
    task = ctx.spec.task
    if task.metric is not None:
        return ctx.decide("task.metric", task.metric, "set in the spec", "spec"), task.metric
    rule = TASK_RULES[task.type]
    metric = rule.metric
    why = f"the default metric of {task.type}"
    if isinstance(task, EmbeddingTask) and task.label is None:
        why = "no label column to correlate with: models are selected on the validation loss"
        return ctx.decide("task.metric", "loss", why, "default"), "loss"
    if rule.imbalanced_metric is not None:
        ratio = imbalance_ratio(counts)
        if ratio > IMBALANCE_RATIO:
            metric = rule.imbalanced_metric
            why = (
                f"classes are imbalanced (majority/minority = {ratio:.1f} > {IMBALANCE_RATIO:g}):"
                " macro F1 weighs every class equally, accuracy would reward the majority"
            )
        else:
            why += f" (classes balanced enough: majority/minority = {ratio:.1f})"
    return ctx.decide("task.metric", metric, why, "default"), metric
