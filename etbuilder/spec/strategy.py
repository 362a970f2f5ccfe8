"""`strategy:` the transfer-learning algorithm, each with only its own knobs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from etbuilder.spec._base import SpecModel


class FinetuneStrategy(SpecModel):
    """Train every parameter of the backbone and the task head."""

    type: Literal["finetune"] = "finetune"
    """The strategy."""


class FeaturesStrategy(SpecModel):
    """Feature-based transfer: freeze the backbone, cache its features, train only a head."""

    type: Literal["features"] = "features"
    """The strategy."""
    head: Literal["linear", "mlp"] = "linear"
    """Head trained on the cached features."""
    hidden: int = Field(default=256, ge=1)
    """Width of the MLP head's hidden layer."""
    solver: Literal["auto", "lbfgs", "adamw"] = "auto"
    """How the head trains: `lbfgs` solves a linear head exactly (full batch, the L2 strength
    chosen on the validation split, no learning rate or epochs); `adamw` trains mini-batches
    with `train:`'s learning rate and epochs. auto: lbfgs for a linear head unless
    train.learning_rate or train.epochs is set, else adamw."""
    pooling: Literal["auto", "mean", "cls", "pooler"] = "auto"
    """Text vector the head reads: mean of the token vectors, the raw [CLS] vector, or the
    pooler (dense + tanh on [CLS]); auto pools as the backbone was trained (mean for
    sentence-transformers checkpoints and checkpoints without pooler weights)."""


class FreezeStrategy(SpecModel):
    """Freeze the embeddings and the lowest layers; fine-tune the rest."""

    type: Literal["freeze"] = "freeze"
    """The strategy."""
    layers: int = Field(default=0, ge=0)
    """How many of the lowest transformer layers stay frozen."""
    embeddings: bool = True
    """Also freeze the embedding layer."""
    lr_decay: float | None = Field(default=None, gt=0.0, le=1.0)
    """Layer-wise learning-rate decay: each layer down gets this factor of the one above."""


class LoraStrategy(SpecModel):
    """Low-rank adapters (LoRA or DoRA) through PEFT; merged into the weights for serving."""

    type: Literal["lora"] = "lora"
    """The strategy."""
    variant: Literal["lora", "dora"] = "lora"
    """Plain LoRA, or DoRA (weight-decomposed low-rank adaptation)."""
    r: int = Field(default=8, ge=1, le=1024)
    """Rank of the adapter matrices."""
    alpha: float = Field(default=16.0, gt=0.0)
    """Scaling of the adapter update (effective scale alpha / r)."""
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Dropout on the adapter input."""
    targets: Literal["auto"] | list[str] = "auto"
    """Module names to adapt; auto picks the attention projections of the architecture."""


class DistillStrategy(SpecModel):
    """Knowledge distillation from a trained teacher into this backbone (or a smaller copy)."""

    type: Literal["distill"] = "distill"
    """The strategy."""
    teacher: str = Field(min_length=1)
    """A finished run folder, or a teacher spec file (`.yaml`) that this run trains first, into
    `teacher/` of its own run folder."""
    temperature: float = Field(default=2.0, gt=0.0)
    """Softmax temperature of the soft targets."""
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    """Weight of the soft-target loss; 1 - alpha weighs the hard-label loss."""
    student_layers: int | None = Field(default=None, ge=1)
    """Keep this many layers of the backbone, initialised from evenly spaced layers."""


DownstreamStrategy = Annotated[
    FinetuneStrategy | FeaturesStrategy | FreezeStrategy | LoraStrategy | DistillStrategy,
    Field(discriminator="type"),
]
"""A strategy that can follow `dapt`."""


class DaptStrategy(SpecModel):
    """Domain-adaptive pretraining: masked-LM on in-domain text, then a downstream strategy."""

    type: Literal["dapt"] = "dapt"
    """The strategy."""
    corpus: str | None = None
    """A text file (one document per line); default: the task's own training texts (TAPT)."""
    corpus_column: str | None = None
    """Read the corpus from this column of `corpus` (a csv/tsv/jsonl/parquet file)."""
    steps: int = Field(default=500, ge=1)
    """Masked-LM optimisation steps."""
    mlm_probability: float = Field(default=0.15, gt=0.0, lt=1.0)
    """Fraction of tokens masked."""
    learning_rate: float | None = Field(default=None, gt=0.0)
    """Learning rate of the masked-LM phase; default: `train.learning_rate`, or full
    fine-tuning's rate when that is unset too."""
    then: DownstreamStrategy = Field(default_factory=FinetuneStrategy)
    """The strategy trained on the task after adaptation."""


Strategy = Annotated[
    FinetuneStrategy
    | FeaturesStrategy
    | FreezeStrategy
    | LoraStrategy
    | DistillStrategy
    | DaptStrategy,
    Field(discriminator="type"),
]
"""The transfer-learning strategy, chosen by `type`."""
