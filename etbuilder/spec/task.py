"""`task:` what the model learns to predict, from which columns."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from etbuilder.spec._base import SpecModel

TaskType = Literal[
    "classification", "multilabel", "pair_classification", "regression", "ner", "embedding"
]
"""Every task type (each task model below declares its own)."""

TASK_SYNONYMS = {
    "classifier": "classification",
    "text_classification": "classification",
    "token_classification": "ner",
    "similarity": "regression",
    "sentence_embedding": "embedding",
}
"""Words users write for a task type: suggested before spelling matches."""

TextColumns = str | list[str]
"""One text column, or two (`[first, second]`) for sentence-pair inputs."""


class ClassificationTask(SpecModel):
    """One label per text, out of a fixed set (sentiment, topic, spam, intent)."""

    type: Literal["classification"] = "classification"
    """The task kind."""
    text: str
    """Column holding the input text."""
    label: str
    """Column holding the class label."""
    labels: list[str] | None = None
    """The label set in a fixed order; default: the labels seen in training data, sorted."""
    metric: Literal["accuracy", "f1_macro", "f1_micro", "f1_weighted"] | None = None
    """Metric for model selection; default: accuracy (f1_macro when classes are imbalanced)."""


class MultilabelTask(SpecModel):
    """Any number of labels per text (tags, topics)."""

    type: Literal["multilabel"] = "multilabel"
    """The task kind."""
    text: str
    """Column holding the input text."""
    label: str
    """Column holding the labels, separated by `separator` (or a list in jsonl/parquet)."""
    separator: str = Field(default=",", min_length=1)
    """Separator between labels inside the label column."""
    labels: list[str] | None = None
    """The label set in a fixed order; default: the labels seen in training data, sorted."""
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Probability above which a label is predicted."""
    metric: Literal["f1_micro", "f1_macro", "subset_accuracy"] | None = None
    """Metric for model selection; default: f1_micro."""


class PairClassificationTask(SpecModel):
    """One label per pair of texts (paraphrase, duplicate questions, entailment)."""

    type: Literal["pair_classification"] = "pair_classification"
    """The task kind."""
    text: list[str]
    """The two columns holding the first and second text: `[question1, question2]`."""
    label: str
    """Column holding the class label."""
    labels: list[str] | None = None
    """The label set in a fixed order; default: the labels seen in training data, sorted."""
    metric: Literal["accuracy", "f1_macro", "f1_micro", "f1_binary"] | None = None
    """Metric for model selection; default: accuracy."""


class RegressionTask(SpecModel):
    """A number per text or per pair of texts (ratings, similarity scores)."""

    type: Literal["regression"] = "regression"
    """The task kind."""
    text: TextColumns
    """Column holding the text, or two columns for a pair."""
    label: str
    """Column holding the numeric target."""
    metric: Literal["pearson", "spearman", "mse", "mae"] | None = None
    """Metric for model selection; default: spearman."""


class NerTask(SpecModel):
    """A tag per token (named entities, slots), BIO-encoded."""

    type: Literal["ner"] = "ner"
    """The task kind."""
    tokens: str = "tokens"
    """Column holding the token list (jsonl/parquet); conll files provide it directly."""
    tags: str = "tags"
    """Column holding the tag list (jsonl/parquet); conll files provide it directly."""
    labels: list[str] | None = None
    """The tag set in a fixed order; default: the tags seen in training data."""
    metric: Literal["entity_f1", "token_accuracy"] | None = None
    """Metric for model selection; default: entity_f1 (exact span and type match, as seqeval)."""


class EmbeddingTask(SpecModel):
    """A sentence encoder: vectors for search, clustering and similarity."""

    type: Literal["embedding"] = "embedding"
    """The task kind."""
    text: TextColumns
    """Column with the text to encode, or two columns of paired texts to fine-tune on."""
    label: str | None = None
    """Column with a pair's similarity score or 0/1 label; none for in-batch negatives."""
    loss: Literal["auto", "cosine", "contrastive", "in_batch_negatives"] = "auto"
    """Training loss for pairs; auto picks cosine for scores, in-batch negatives without labels."""
    normalize: bool = True
    """L2-normalise the output vectors."""
    metric: Literal["spearman", "pearson"] | None = None
    """Metric for model selection on scored pairs; default: spearman."""


Task = Annotated[
    ClassificationTask
    | MultilabelTask
    | PairClassificationTask
    | RegressionTask
    | NerTask
    | EmbeddingTask,
    Field(discriminator="type"),
]
"""The task, chosen by `type`."""
