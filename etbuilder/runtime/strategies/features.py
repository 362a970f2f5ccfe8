"""`features`: the backbone frozen and run once per split, the task head trained on the cached
features. `FeatureTrainer` stands in for the loop's Trainer (the same `TrainerSurface`), so
the engine's finish (save, test evaluation, report) is unchanged. The head trained is the
model's own head module (a linear head: BERT's `classifier`), so `model/` stays a transformers
model; a mean or [CLS] pooling (`runtime.feature_pooling`) and an MLP head (`runtime.mlp_head`)
are recorded in its config and restored by etbuilder's loaders.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from etbuilder.errors import RunError
from etbuilder.plan import FeaturesPlan, Plan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report.metrics import primary
from etbuilder.report.rundir import MetricsLog
from etbuilder.runtime.batching import collate, sorted_batches
from etbuilder.runtime.encode import IGNORE, Encoded
from etbuilder.runtime.feature_pooling import install_pooling
from etbuilder.runtime.heads import head_of
from etbuilder.runtime.inference import Outputs, decode, split_metrics
from etbuilder.runtime.mlp_head import install_mlp_head
from etbuilder.runtime.optim import build_optimizer, build_scheduler
from etbuilder.runtime.progress import Progress
from etbuilder.runtime.strategies.base import planned
from etbuilder.runtime.strategies.feature_cache import Features, cached_features
from etbuilder.runtime.strategies.groups import group_prefixes
from etbuilder.runtime.strategies.lbfgs_head import fit_lbfgs
from etbuilder.runtime.trainer_surface import Data, TrainState

LBFGS_CHUNK = 8192
"""Rows per chunk of the full-batch objective: pooled texts, or labelled tokens."""


class HeadOnly(nn.Module):
    """The head as a model: `input_ids` carries the cached features (for the task losses)."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, input_ids: torch.Tensor, **_: Any) -> Any:
        return SimpleNamespace(logits=self.head(input_ids))


def head_module(plan: Plan, model: nn.Module) -> tuple[str, nn.Module]:
    """The single head module of the task model (`classifier`); refuses what has none."""
    names = [p.rstrip(".") for p in group_prefixes(model, "head")]
    if TASK_RULES[plan.task.type].model == "encoder" or len(names) != 1:
        raise RunError(
            f"strategy features: a {plan.task.type} model of {plan.backbone.name} has no single "
            "task head to train on cached features; use strategy finetune, freeze or lora"
        )
    return names[0], model.get_submodule(names[0])


def check_head(plan: Plan, model: nn.Module) -> nn.Module:
    """Before any work: the model has one head module; an `mlp` head replaces it; the planned
    pooling (mean or cls) replaces the pooler's output."""
    name, _ = head_module(plan, model)
    features = planned(plan, FeaturesPlan)
    if features.head == "mlp":
        install_mlp_head(model, name, features.hidden or 256)
    return install_pooling(model, features.pooling)


def _batch(features: Features, encoded: Encoded, rows: np.ndarray, pad_id: int) -> dict[str, Any]:
    """The head's inputs and targets of `rows`; token features padded like the token ids."""
    if not features.tokens:
        batch: dict[str, Any] = {"input_ids": features.values[torch.from_numpy(rows)]}
        if encoded.targets is not None:
            batch["labels"] = torch.from_numpy(np.ascontiguousarray(encoded.targets[rows]))
        return batch
    batch = collate(encoded, rows, pad_id)
    offsets = encoded.sides[0].offsets
    width = batch["input_ids"].shape[1]
    values = features.values.new_zeros((len(rows), width, features.values.shape[1]))
    for r, row in enumerate(rows):
        a, b = int(offsets[row]), int(offsets[row + 1])
        values[r, : b - a] = features.values[a:b]
    batch["input_ids"] = values
    return batch


class FeatureTrainer:
    """Trains the head of a frozen model on cached features; has the `TrainerSurface`."""

    records_throughput = False
    """Head steps say nothing of the backbone's training speed: keep them out of the record."""

    def __init__(
        self,
        plan: Plan,
        model: nn.Module,
        data: Data,
        run_dir: Path,
        accelerator: Any,
        log: MetricsLog,
        *,
        quiet: bool = True,
    ) -> None:
        self.plan, self.task, self.data, self.log = plan, plan.task, data, log
        self.acc, self.model = accelerator, model.to(accelerator.device)
        self.loss = head_of(plan.task).loss
        name, head = head_module(plan, model)
        self.head = HeadOnly(head).to(accelerator.device)
        t0 = time.perf_counter()
        use = {"pad_id": data.pad_id, "device": accelerator.device}
        self.train = cached_features(plan, "train", model, (name, head), data.train, **use)
        self.validation = None
        if data.validation is not None:
            self.validation = cached_features(
                plan, "validation", model, (name, head), data.validation, **use
            )
        self.cache = self.train.cache
        self.feature_seconds = time.perf_counter() - t0
        sched = plan.schedule
        self.steps_per_epoch = max(1, math.ceil(len(data.train) / sched.batch_size))
        total = self.steps_per_epoch * sched.epochs
        self.schedule = sched.model_copy(
            update={
                "steps_per_epoch": self.steps_per_epoch,
                "total_steps": total,
                "warmup_steps": min(sched.warmup_steps, total),
            }
        )
        self.metric = plan.task.metric
        self.features_plan = planned(plan, FeaturesPlan)
        if self.features_plan.solver == "lbfgs":
            self.schedule = sched
            self.steps_per_epoch = sched.steps_per_epoch
        else:
            self.optimizer = build_optimizer(self.head, self.schedule)
            self.scheduler = build_scheduler(self.optimizer, self.schedule)
        self.state = TrainState()
        self.strategy_figures: dict[str, Any] = {}
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.epoch_seconds: list[float] = []

    def restore(self, folder: Path) -> None:
        """Nothing to restore: the head trains from its start in seconds on the cache."""

    def unwrapped(self) -> nn.Module:
        return self.model

    def load_best(self) -> None:
        if self.best_weights is not None:
            self.head.head.load_state_dict(self.best_weights)

    def fit(self, progress: Progress) -> TrainState:
        """Every planned epoch over the cached training features; the best head by validation.
        An L-BFGS head: one exact fit per planned L2 strength instead."""
        if self.features_plan.solver == "lbfgs":
            return self._fit_lbfgs(progress)
        state, sched = self.state, self.schedule
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(sched.seed)
        device = self.acc.device
        self.head.train()
        while state.epoch < sched.epochs and state.stopped is None:
            t0 = time.perf_counter()
            order = torch.randperm(len(self.data.train), generator=generator).numpy()
            loss_sum = 0.0
            for i in range(0, len(order), sched.batch_size):
                rows = order[i : i + sched.batch_size]
                batch = _batch(self.train, self.data.train, rows, self.data.pad_id)
                batch = {k: v.to(device) for k, v in batch.items()}
                loss = self.loss(self.head, batch, self.task, self.data.loss_scale)
                loss.backward()
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                loss_sum += float(loss.detach())
                state.step += 1
                state.samples += len(rows)
                tokens = int(self.data.train.lengths[rows].sum())
                state.tokens += tokens
                state.padded_tokens += tokens
                progress.advance(1)
            seconds = time.perf_counter() - t0
            self.epoch_seconds.append(seconds)
            state.train_seconds += seconds
            state.epoch += 1
            state.elapsed = time.perf_counter() - started
            self.log.write(
                {
                    "step": state.step,
                    "epoch": state.epoch,
                    "kind": "train",
                    "loss": loss_sum / max(1, math.ceil(len(order) / sched.batch_size)),
                    "lr": self.scheduler.get_last_lr()[0],
                    "epoch_seconds": round(seconds, 4),
                    "feature_cache": self.cache,
                    "feature_seconds": round(self.feature_seconds, 3) if state.epoch == 1 else 0,
                    "elapsed": round(state.elapsed, 3),
                }
            )
            self._evaluate(progress)
            budget = sched.time_budget_s
            if budget is not None and time.perf_counter() - started >= budget:
                state.stopped = "time_budget"
        state.stopped = state.stopped or "completed"
        state.elapsed = time.perf_counter() - started
        return state

    def _chunks(self, rows_per_chunk: int) -> list[dict[str, torch.Tensor]]:
        """The training split as batches on the device, in order. Token features: only the
        labelled tokens' vectors, flat (a linear head reads each token on its own, and the
        loss ignores the rest), so no chunk carries padding or unlabelled sub-words."""
        if self.train.tokens:
            inputs, labels = _labelled_tokens(self.train, self.data.train)
        else:
            inputs, labels = self.train.values, None
            if self.data.train.targets is not None:
                labels = torch.from_numpy(np.ascontiguousarray(self.data.train.targets))
        chunks = []
        for i in range(0, len(inputs), rows_per_chunk):
            batch = {"input_ids": inputs[i : i + rows_per_chunk]}
            if labels is not None:
                batch["labels"] = labels[i : i + rows_per_chunk]
            chunks.append({k: v.to(self.acc.device) for k, v in batch.items()})
        return chunks

    def _fit_lbfgs(self, progress: Progress) -> TrainState:
        """Strongest L2 first, each fit warm-started from the last; the best on validation
        is kept (without validation the plan holds a single strength)."""
        state = self.state
        started = time.perf_counter()
        chunks = self._chunks(LBFGS_CHUNK)
        task, scale = self.task, self.data.loss_scale

        def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.loss(model, batch, task, scale)

        tokens = int(self.data.train.lengths.sum())
        for l2 in self.features_plan.l2_grid:
            t0 = time.perf_counter()
            fit = fit_lbfgs(self.head, chunks, loss, l2)
            seconds = time.perf_counter() - t0
            self.epoch_seconds.append(seconds)
            state.train_seconds += seconds
            state.step += 1
            state.samples += len(self.data.train)
            state.tokens += tokens
            state.padded_tokens += tokens
            state.epoch = 1
            state.elapsed = time.perf_counter() - started
            self.log.write(
                {
                    "step": state.step,
                    "epoch": 1,
                    "kind": "train",
                    "solver": "lbfgs",
                    "l2": l2,
                    "loss": fit["objective"],
                    "lbfgs_iterations": fit["iterations"],
                    "lbfgs_evaluations": fit["evaluations"],
                    "epoch_seconds": round(seconds, 4),
                    "feature_cache": self.cache,
                    "feature_seconds": round(self.feature_seconds, 3) if state.step == 1 else 0,
                    "elapsed": round(state.elapsed, 3),
                }
            )
            progress.advance(1)
            if self.validation is None:
                self._keep_best_weights()
            else:
                self._evaluate(progress, early_stopping=False, extra={"l2": l2})
            budget = self.schedule.time_budget_s
            if budget is not None and time.perf_counter() - started >= budget:
                state.stopped = "time_budget"
                break
        best = self._best_l2()
        if best is not None:
            self.strategy_figures["head_l2"] = best
        state.stopped = state.stopped or "completed"
        state.elapsed = time.perf_counter() - started
        return state

    def _keep_best_weights(self) -> None:
        self.best_weights = {k: v.detach().clone() for k, v in self.head.head.state_dict().items()}

    def _best_l2(self) -> float | None:
        grid, step = self.features_plan.l2_grid, self.state.best_step
        if step is None:
            return grid[-1] if grid else None
        return grid[step - 1]

    @torch.no_grad()
    def head_outputs(self, features: Features, encoded: Encoded) -> Outputs:
        """The head's outputs of a cached split in example order, and its mean loss."""
        self.head.eval()
        per_example: list[Any] = [None] * len(encoded)
        loss_sum, labelled = 0.0, encoded.targets is not None or encoded.token_targets is not None
        for rows in sorted_batches(encoded.lengths, 256):
            batch = _batch(features, encoded, rows, self.data.pad_id)
            batch = {k: v.to(self.acc.device) for k, v in batch.items()}
            values = self.head(**batch).logits.float()
            if labelled:
                loss_sum += float(self.loss(self.head, batch, self.task, {})) * len(rows)
            for i, row in enumerate(rows):
                keep = int(encoded.sides[0].lengths[row]) if features.tokens else None
                per_example[row] = values[i, :keep].cpu().numpy()
        self.head.train()
        values_out: Any = per_example if features.tokens else np.stack(per_example)
        return Outputs(values_out, loss_sum / len(encoded) if labelled and len(encoded) else None)

    def _evaluate(
        self,
        progress: Progress,
        *,
        early_stopping: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        data, state = self.data, self.state
        if self.validation is None or data.validation is None or data.validation_examples is None:
            return
        outputs = self.head_outputs(self.validation, data.validation)
        decoded = decode(outputs, data.validation, data.validation_examples, self.task)
        metrics = split_metrics(
            decoded, data.validation, data.validation_examples, self.task, outputs.loss
        )
        value = primary(metrics, self.metric)
        state.last_eval_step = state.step
        record: dict[str, Any] = {"step": state.step, "epoch": state.epoch, "kind": "eval"}
        record |= extra or {}
        record |= {f"validation/{k}": v for k, v in metrics.items() if _number(v)}
        maximize = self.task.metric_direction == "maximize"
        best = state.best_metric
        if best is None or (value > best if maximize else value < best):
            state.best_metric, state.best_step, state.best_epoch = value, state.step, state.epoch
            state.validation = dict(metrics)
            self._keep_best_weights()
            record["best"] = True
            state.bad_evals = 0
        else:
            state.bad_evals += 1
        self.log.write(record)
        progress.note(metric=f"{self.metric} {value:.4f}")
        stopping = self.schedule.early_stopping
        if early_stopping and stopping is not None and state.bad_evals >= stopping.patience:
            state.stopped = "early_stopping"


def _labelled_tokens(features: Features, encoded: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
    """The vectors and tags of the tokens that carry a tag (first sub-words), flat."""
    if encoded.token_targets is None:
        raise RunError("strategy features: the training split has no token tags to fit")
    targets = np.asarray(encoded.token_targets)
    keep = torch.from_numpy(np.flatnonzero(targets != IGNORE))
    labels = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.int64))[keep]
    return features.values[keep].float().contiguous(), labels


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
