"""`train:` the optimisation loop's settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from etbuilder.spec._base import DURATION_PATTERN, SpecModel


class EarlyStopping(SpecModel):
    """Stop when the validation metric stops improving."""

    patience: int = Field(default=2, ge=1)
    """Evaluations without improvement before training stops."""
    min_delta: float = Field(default=0.0, ge=0.0)
    """Smallest change of the metric that counts as an improvement."""


class TrainSpec(SpecModel):
    """How the model is optimised."""

    epochs: int | None = Field(default=None, ge=1, le=1000)
    """Passes over the training data; unset: the compiler chooses them from the strategy, the
    training rows and the batch size (the plan's `schedule.epochs` decision says how)."""
    batch_size: int = Field(default=32, ge=1, le=65536)
    """Examples per step on each process."""
    global_batch: int | None = Field(default=None, ge=1, le=16777216)
    """Examples per optimizer step over all processes, kept whatever the layout: the compiler
derives the per-process batch (then `batch_size` is the most per process) and the accumulation
steps from it and the process count. Null: batch_size x processes x accumulation."""
    learning_rate: float | None = Field(default=None, gt=0.0, le=1.0)
    """Peak learning rate of AdamW; unset: the compiler chooses it for the strategy (and a
    `features` linear head is solved exactly with L-BFGS, which needs none)."""
    head_learning_rate: float | None = Field(default=None, gt=0.0, le=1.0)
    """Peak learning rate of the freshly initialised task head when the strategy trains the
    backbone too (finetune, freeze, lora, distill, dapt's task phase); `learning_rate` is then
    the backbone's. Unset: for a classification or tagging head over C classes, the backbone's
    rate x (C - 1), at most 1e-2 unless the backbone's is higher (the plan's
    `schedule.head_learning_rate` decision says how); other heads train at `learning_rate`.
    Not for `features` (it trains the head alone: set `learning_rate`) or a task without a
    head (embedding)."""
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    """Learning-rate schedule after warmup."""
    warmup: float | None = Field(default=None, ge=0.0)
    """Warmup: a fraction of the total steps when below 1, else a number of steps; unset: the
    compiler chooses it for the strategy."""
    weight_decay: float = Field(default=0.01, ge=0.0, le=1.0)
    """AdamW weight decay (not applied to biases and LayerNorm weights)."""
    max_grad_norm: float | None = Field(default=1.0, gt=0.0)
    """Clip the gradient norm to this value; null disables clipping."""
    accumulation: int = Field(default=1, ge=1, le=1024)
    """Gradient accumulation steps per optimizer step."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Numeric precision; auto uses bf16 where the hardware runs it fast, else fp32."""
    early_stopping: EarlyStopping | None = None
    """Stop early on the validation metric; null trains every epoch. Unset, the compiler turns
    it on when it chose many epochs and there is a validation split."""
    seed: int = 42
    """Random seed for initialisation, shuffling and dropout."""
    deterministic: bool = False
    """Use deterministic kernels (slower; bit-identical reruns on the same hardware)."""
    time_budget: str | None = Field(default=None, pattern=DURATION_PATTERN)
    """Stop cleanly after this long (`90s`, `20m`, `2h`), keeping the best model so far."""
    checkpoint_every: int | None = Field(default=None, ge=1)
    """Also checkpoint every N optimizer steps (a checkpoint is always written each epoch)."""
    eval_every: int | None = Field(default=None, ge=1)
    """Also evaluate every N optimizer steps (evaluation always runs at each epoch's end)."""
    keep_checkpoints: int = Field(default=2, ge=1)
    """How many recent checkpoints to keep on disk."""
