"""What the compiler knows about each task: a table, one row per task type, checked at import."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from etbuilder.spec.task import NerTask, Task


@dataclass(frozen=True)
class TaskRule:
    """Defaults and shape of one task."""

    loss: str
    """Training loss (embedding: the `auto` default is resolved from the data)."""
    metric: str
    """Default model-selection metric."""
    pooling: Literal["cls", "mean", "none"]
    """Pooling when `backbone.pooling: auto`."""
    labels: Literal["classes", "multi", "tags", "number", "optional-number"]
    """What the label column holds."""
    activation: str = "softmax"
    """How the head's outputs become predictions."""
    options: tuple[str, ...] = ()
    """Spec fields of the task the runtime needs, copied into TaskPlan.options."""
    stratify: bool = False
    """Whether a split can stratify on the label."""


TASK_RULES: MappingProxyType[str, TaskRule] = MappingProxyType(
    {
        "classification": TaskRule("cross_entropy", "accuracy", "cls", "classes", stratify=True),
        "multilabel": TaskRule(
            "bce_with_logits", "f1_micro", "cls", "multi", "sigmoid per label",
            ("separator", "threshold"),
        ),
        "pair_classification": TaskRule(
            "cross_entropy", "accuracy", "cls", "classes", stratify=True
        ),
        "regression": TaskRule("mse", "spearman", "cls", "number", "none"),
        "ner": TaskRule(
            "token_cross_entropy", "entity_f1", "none", "tags", "softmax per token",
            ("tokens", "tags"),
        ),
        "embedding": TaskRule(
            "cosine", "spearman", "mean", "optional-number", "none", ("normalize",)
        ),
    }
)  # fmt: skip
"""Task type -> its rule."""

MINIMIZED = frozenset({"mse", "mae", "loss"})
"""Metrics where smaller is better."""


def _task_types() -> set[str]:
    union = typing.get_args(typing.get_args(Task)[0])
    return {typing.get_args(cls.model_fields["type"].annotation)[0] for cls in union}


if set(TASK_RULES) != _task_types():  # pragma: no cover - a registry bug fails at import
    raise RuntimeError(f"TASK_RULES {sorted(TASK_RULES)} != task types {sorted(_task_types())}")


def text_columns(task: Task) -> list[str]:
    """The text columns the task reads (none for ner, which reads token lists)."""
    if isinstance(task, NerTask):
        return []
    return [task.text] if isinstance(task.text, str) else list(task.text)


def label_column(task: Task) -> str | None:
    """The column holding the label (ner: the tags column; embedding: may be None)."""
    if isinstance(task, NerTask):
        return task.tags
    return task.label


def needed_columns(task: Task) -> dict[str, str]:
    """{role: column} the task reads, e.g. {"task.text": "review", "task.label": "stars"}."""
    if isinstance(task, NerTask):
        return {"task.tokens": task.tokens, "task.tags": task.tags}
    columns = text_columns(task)
    needed = (
        {"task.text": columns[0]}
        if isinstance(task.text, str)
        else {f"task.text[{i}]": c for i, c in enumerate(columns)}
    )
    if task.label is not None:
        needed["task.label"] = task.label
    return needed
