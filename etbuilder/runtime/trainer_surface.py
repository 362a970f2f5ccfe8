"""What trains a model, as the engine sees it: the state it keeps, the data it gets, and the
surface (`TrainerSurface`) a strategy's own trainer must offer in place of the loop's Trainer.

The engine builds the trainer through the strategy's factory (`TrainerFactory`; the loop's
`Trainer` by default), then calls `restore` on resume, `fit`, `load_best` and `unwrapped`, and
the finish reads `state`, `data`, `schedule`, `metric`, `strategy_figures` and
`records_throughput`. No torch here: the strategies table imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from etbuilder.data import Examples
from etbuilder.plan import Plan, SchedulePlan
from etbuilder.report.rundir import MetricsLog
from etbuilder.runtime.encode import Encoded
from etbuilder.runtime.progress import Progress


@dataclass
class TrainState:
    """Counters, data position and best-so-far: what `state.json` of a checkpoint holds."""

    epoch: int = 0
    position: int = 0
    """Micro-batches of the current epoch this process has consumed."""
    step: int = 0
    """Optimizer steps done."""
    samples: int = 0
    tokens: int = 0
    """Real (non-pad) tokens trained on, all processes."""
    padded_tokens: int = 0
    train_seconds: float = 0.0
    """Wall time spent in training steps (no evaluation, no checkpoints)."""
    elapsed: float = 0.0
    """Wall time of the whole loop, over every attempt."""
    best_metric: float | None = None
    best_step: int | None = None
    best_epoch: float | None = None
    bad_evals: int = 0
    last_eval_step: int = -1
    stopped: str | None = None
    """Why training ended: completed, early_stopping, time_budget (None while running)."""
    validation: dict[str, Any] = field(default_factory=dict)
    """Metrics of the best evaluation."""


@dataclass
class Data:
    """What the loop trains and selects on."""

    train: Encoded
    validation: Encoded | None
    validation_examples: Examples | None
    pad_id: int
    loss_scale: dict[str, float]


@runtime_checkable
class TrainerSurface(Protocol):
    """What the engine and the finish use of whatever trains the model."""

    state: TrainState
    """Counters and the best evaluation so far (run figures, throughput record)."""
    data: Data
    schedule: SchedulePlan
    """The plan's schedule with the step counts this trainer really runs."""
    metric: str
    """The model-selection metric."""
    strategy_figures: dict[str, Any]
    """Extra blocks for metrics.json (distill: the teacher/student comparison)."""
    records_throughput: bool
    """Whether its steps measure the backbone's training speed (recorded for `etb plan`)."""

    def fit(self, progress: Progress) -> TrainState:
        """Train until done; the final state."""
        ...

    def restore(self, folder: Path) -> None:
        """Continue from checkpoint `folder`."""
        ...

    def load_best(self) -> None:
        """Put the best evaluated weights into the model."""
        ...

    def unwrapped(self) -> Any:
        """The trained model without device or DDP wrappers."""
        ...


class TrainerFactory(Protocol):
    """Builds the trainer of a plan (a strategy hook; the loop's `Trainer` by default)."""

    def __call__(
        self,
        plan: Plan,
        model: Any,
        data: Data,
        run_dir: Path,
        accelerator: Any,
        log: MetricsLog,
        *,
        quiet: bool,
        lr_scales: Mapping[str, float],
    ) -> TrainerSurface: ...
