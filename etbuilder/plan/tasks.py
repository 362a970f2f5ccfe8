"""What each task is and does: a table, one row per task type, checked at import.

Everything that differs between tasks (the inputs it reads, what it outputs, the model head, the
metric family, the report's plots and words, the model card's text) is a field of its row, so
code elsewhere reads the row instead of testing the task's name, and a new task is a new row.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from etbuilder.spec.task import NerTask, Task, TaskType

Inputs = Literal["text", "pair", "text-or-pair", "tokens"]
"""What one example reads: a text, two texts, one or two texts, or a list of tokens."""
Output = Literal["label", "labels", "value", "entities", "vector"]
"""What the model answers per input (also the key of the packaged app's answer)."""
ModelKind = Literal["sequence", "token", "encoder"]
"""Hugging Face head: one output row per sequence, one per token, or the bare encoder."""
MetricFamily = Literal["single_label", "multi_label", "numeric", "tagging"]
"""Which metrics a split gets (see `etbuilder.report.metrics.compute_metrics`)."""
Plot = Literal["confusion_matrix", "per_class_f1", "predicted_vs_true"]
"""Report plots beyond the learning curves every run gets."""


@dataclass(frozen=True)
class TaskRule:
    """Defaults, shape and behaviour of one task."""

    loss: str
    """Training loss (embedding: the `auto` default is resolved from the data)."""
    metric: str
    """Default model-selection metric."""
    pooling: Literal["cls", "mean", "none"]
    """Pooling when `backbone.pooling: auto`."""
    labels: Literal["classes", "multi", "tags", "number", "optional-number"]
    """What the label column holds."""
    inputs: Inputs
    """What one example reads."""
    output: Output
    """What the model answers per input."""
    model: ModelKind
    """The model's head."""
    metrics: MetricFamily
    """The metrics of a split."""
    description: str
    """What the model decides, for the model card (`{n}`, `{labels}`, `{threshold}` filled in)."""
    answer: str
    """The shape of one answer of the packaged app, for the model card."""
    imbalanced_metric: str | None = None
    """The default metric instead of `metric` when the classes are imbalanced."""
    activation: str = "softmax"
    """How the head's outputs become predictions."""
    problem_type: str | None = None
    """The Hugging Face `problem_type` of a sequence head."""
    options: tuple[str, ...] = ()
    """Spec fields of the task the runtime needs, copied into the TaskPlan field of that name."""
    stratify: bool = False
    """Whether a split can stratify on the label."""
    pair_sides: Literal["joint", "apart"] = "joint"
    """Two texts are read as one sequence (`[CLS] a [SEP] b`) or encoded apart (a bi-encoder,
    which serves single texts)."""
    plots: tuple[Plot, ...] = ()
    """Report plots of the evaluated split."""
    class_word: str = "class"
    """What one of its labels is called in the report."""
    distills: bool = False
    """Whether strategy distill can train it (one output row per example: a teacher's token
    logits would need the teacher's tokenizer)."""
    example_kind: Literal["text", "pair", "sentence"] | None = None
    """Which default example inputs the app gets when no evaluation set supplies some (None:
    by the served input kind)."""

    @property
    def per_token(self) -> bool:
        """Whether the model outputs one row per token (not per example)."""
        return self.model == "token"

    @property
    def labels_optional(self) -> bool:
        """Whether the task trains without a label column."""
        return self.labels == "optional-number"

    @property
    def numeric(self) -> bool:
        """Whether the label is a number (no label set)."""
        return self.labels in ("number", "optional-number")

    @property
    def reads_pairs(self) -> bool:
        """Whether two text columns make the served model read a pair of texts."""
        return self.inputs in ("pair", "text-or-pair") and self.pair_sides == "joint"


_SINGLE = '{"label": ..., "score": ..., "scores": {label: probability}}'

TASK_RULES: MappingProxyType[str, TaskRule] = MappingProxyType(
    {
        "classification": TaskRule(
            "cross_entropy", "accuracy", "cls", "classes",
            inputs="text", output="label", model="sequence", metrics="single_label",
            description="one label per text, out of {n}: {labels}", answer=_SINGLE,
            problem_type="single_label_classification", stratify=True,
            plots=("confusion_matrix", "per_class_f1"), distills=True,
            imbalanced_metric="f1_macro",
        ),
        "multilabel": TaskRule(
            "bce_with_logits", "f1_micro", "cls", "multi",
            inputs="text", output="labels", model="sequence", metrics="multi_label",
            description="any number of labels per text (probability >= {threshold}),"
            " out of {n}: {labels}",
            answer='{"labels": [...], "scores": {label: probability}}',
            activation="sigmoid per label", problem_type="multi_label_classification",
            options=("separator", "threshold"), plots=("per_class_f1",), distills=True,
        ),
        "pair_classification": TaskRule(
            "cross_entropy", "accuracy", "cls", "classes",
            inputs="pair", output="label", model="sequence", metrics="single_label",
            description="one label per pair of texts, out of {n}: {labels}", answer=_SINGLE,
            problem_type="single_label_classification", stratify=True,
            plots=("confusion_matrix", "per_class_f1"), distills=True,
        ),
        "regression": TaskRule(
            "mse", "spearman", "cls", "number",
            inputs="text-or-pair", output="value", model="sequence", metrics="numeric",
            description="a number per input", answer='{"value": ...}', activation="none",
            problem_type="regression", plots=("predicted_vs_true",), distills=True,
        ),
        "ner": TaskRule(
            "token_cross_entropy", "entity_f1", "none", "tags",
            inputs="tokens", output="entities", model="token", metrics="tagging",
            description="entities in a text, tagged BIO with {n} tags: {labels}",
            answer='{"entities": [{"type", "text", "start", "end", "score"}]} '
            "(character offsets, end exclusive)",
            activation="softmax per token", options=("tokens", "tags"),
            plots=("per_class_f1",), class_word="entity type", example_kind="sentence",
        ),
        "embedding": TaskRule(
            "cosine", "spearman", "mean", "optional-number",
            inputs="text-or-pair", output="vector", model="encoder", metrics="numeric",
            description="a vector per text (for search, clustering and similarity)",
            answer='{"vector": [...]}', activation="none", options=("normalize",),
            pair_sides="apart", plots=("predicted_vs_true",),
        ),
    }
)  # fmt: skip
"""Task type -> its rule."""

PAIR_LOSSES = ("cosine", "contrastive", "in_batch_negatives")
"""Losses of an encoder trained on pairs of texts encoded apart (the spec's embedding losses)."""

MINIMIZED = frozenset({"mse", "mae", "loss"})
"""Metrics where smaller is better."""


def rule_of(task_type: str) -> TaskRule:
    """The rule of a task type; a ValueError naming the known ones for any other."""
    try:
        return TASK_RULES[task_type]
    except KeyError:
        known = ", ".join(TASK_RULES)
        raise ValueError(f"unknown task type {task_type!r}; expected one of {known}") from None


def _task_types() -> set[str]:
    union = typing.get_args(typing.get_args(Task)[0])
    found = {typing.get_args(cls.model_fields["type"].annotation)[0] for cls in union}
    return found if found == set(typing.get_args(TaskType)) else set()


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
