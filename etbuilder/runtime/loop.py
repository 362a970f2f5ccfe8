"""The training loop: Accelerate for devices, DDP and mixed precision; everything else explicit.

Per optimizer step: `accumulation` micro-batches (no DDP all-reduce but on the last), gradient
clipping, AdamW (lazy rows for the word embeddings), scheduler. Evaluation at each epoch's end
and every `eval_every` steps picks the best model (kept in memory and in checkpoints/best/);
early stopping and the time budget end the loop cleanly. Checkpoints at each epoch's end and
every `checkpoint_every` steps hold everything needed to continue bit for bit (`TrainState`,
optimizer, scheduler, RNG states, data position).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from etbuilder.plan import Plan, SchedulePlan
from etbuilder.report.metrics import primary
from etbuilder.report.rundir import MetricsLog
from etbuilder.runtime import checkpoint as ckpt
from etbuilder.runtime import fsdp, watch
from etbuilder.runtime.batching import LengthGroupedBatches, Step, collate
from etbuilder.runtime.encode import Encoded
from etbuilder.runtime.heads import head_of
from etbuilder.runtime.inference import decode, run_model, split_metrics
from etbuilder.runtime.optim import (
    build_optimizer,
    build_scheduler,
    clip_gradients,
    enable_sparse_embedding,
)
from etbuilder.runtime.progress import Progress
from etbuilder.runtime.trainer_surface import Data, TrainState


class Trainer:
    """Runs one plan's optimisation; `fit()` returns the final TrainState. The engine's default
    `TrainerFactory`: it has the `TrainerSurface`."""

    records_throughput = True
    """Its steps are full training steps: `etb plan` learns this machine's speed from them."""

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
        lr_scales: Mapping[str, float] | None = None,
        sparse_embeddings: bool = True,
    ) -> None:
        """`lr_scales`: parameter-name prefix -> learning-rate multiplier (the strategy's
        `lr_scales` hook)."""
        self.plan = plan
        self.task = plan.task
        self.head = head_of(plan.task)
        self.data = data
        self.run_dir = run_dir
        self.ckpt_dir = run_dir / "checkpoints"
        self.acc = accelerator
        self.log = log
        self.quiet = quiet
        self.rank = accelerator.process_index
        self.world = accelerator.num_processes
        sched = plan.schedule
        self.accum = max(1, sched.accumulation)
        self.sampler = LengthGroupedBatches(
            data.train.lengths, sched.batch_size, sched.seed, rank=self.rank, world=self.world
        )
        self.steps_per_epoch = len(self.sampler.steps(0, self.accum))
        self.schedule = self._schedule(sched)
        self.metric = plan.task.metric
        if data.validation is not None and not _labelled(data.validation):
            self.metric = "loss"  # unlabelled pairs (in-batch negatives): select on the loss
        self.sharded = fsdp.sharded(plan, self.world)
        if (
            sparse_embeddings
            and plan.compute.sparse_embeddings
            and use_sparse_embeddings(accelerator.device.type, self.world)
        ):
            enable_sparse_embedding(model)
        if self.sharded:  # FSDP: the optimizer holds the shards, so it comes after sharding
            model = fsdp.shard_model(model, plan, accelerator.device)
        self.optimizer = build_optimizer(model, self.schedule, lr_scales=dict(lr_scales or {}))
        self.scheduler = build_scheduler(self.optimizer, self.schedule)
        if self.sharded:
            self.model = model
        else:
            self.model, self.optimizer = accelerator.prepare(model, self.optimizer)
        self.params: list[torch.Tensor] = [p for p in self.model.parameters() if p.requires_grad]
        self.state = TrainState()
        self.strategy_figures: dict[str, Any] = {}
        if self.sharded:
            self.strategy_figures["fsdp"] = fsdp.figures(self.model, plan)
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.log_every = max(1, min(20, self.schedule.total_steps // 100))

    def _schedule(self, sched: SchedulePlan) -> SchedulePlan:
        """The plan's schedule with the step counts this process really runs."""
        total = self.steps_per_epoch * sched.epochs
        return sched.model_copy(
            update={
                "steps_per_epoch": self.steps_per_epoch,
                "total_steps": total,
                "warmup_steps": min(sched.warmup_steps, total),
            }
        )

    # ------------------------------------------------------------------ state and checkpoints

    def unwrapped(self) -> nn.Module:
        return self.acc.unwrap_model(self.model)

    def weights(self) -> dict[str, torch.Tensor]:
        """A detached CPU copy of the model's weights (FSDP: gathered, on rank 0 only; every
        rank must call it)."""
        if self.sharded:
            return fsdp.full_weights(self.model)
        return {
            k: v.detach().to("cpu", copy=True) for k, v in self.unwrapped().state_dict().items()
        }

    def save_checkpoint(self) -> None:
        from accelerate.utils import gather_object

        rng = gather_object([(self.rank, ckpt.rng_state())])
        main = self.acc.is_main_process
        if self.sharded:  # collectives: every rank takes part, rank 0 receives
            weights = self.weights()
            optimizer = fsdp.full_optimizer_state(self.model, self.optimizer)
        elif main:
            weights, optimizer = self.weights(), self.optimizer.state_dict()
        if main:
            ckpt.write_checkpoint(
                self.ckpt_dir,
                self.state.step,
                model_state=weights,
                optimizer_state={
                    "optimizer": optimizer,
                    "scheduler": self.scheduler.state_dict(),
                },
                state={"train": asdict(self.state), "sampler": self._sampler_state()},
                rng=dict(rng),
                keep=self.schedule.keep_checkpoints,
            )
        self.acc.wait_for_everyone()

    def _sampler_state(self) -> dict[str, int]:
        return {
            "epoch": self.state.epoch,
            "position": self.state.position,
            "seed": self.sampler.seed,
        }

    def restore(self, folder: Path) -> None:
        """Continue from checkpoint `folder` exactly where it was written."""
        saved = ckpt.read_checkpoint(folder, self.rank)
        if self.sharded:  # every rank read the full state: each keeps its shard
            fsdp.load_weights(self.model, saved["model"], from_rank0=False)
            fsdp.load_optimizer_state(self.model, self.optimizer, saved["optimizer"]["optimizer"])
        else:
            self.unwrapped().load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"]["optimizer"])
        self.scheduler.load_state_dict(saved["optimizer"]["scheduler"])
        self.state = TrainState(**saved["state"]["train"])
        ckpt.set_rng_state(saved["rng"])
        if self.state.best_step is not None:
            self.best_weights = ckpt.read_best(self.ckpt_dir, self.state.best_step)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self) -> dict[str, Any] | None:
        """Validation metrics now (main process; shared with the others); None without data."""
        from accelerate.utils import broadcast_object_list

        data = self.data
        if data.validation is None or data.validation_examples is None:
            return None
        result: list[Any] = [None]
        if self.acc.is_main_process or self.sharded:  # FSDP: each forward gathers the shards
            model = self.unwrapped()
            outputs = run_model(
                model,
                data.validation,
                self.task,
                batch_size=self.schedule.batch_size * 2,
                pad_id=data.pad_id,
                device=self.acc.device,
                autocast=self.acc.autocast,
                loss_scale=data.loss_scale,
            )
            if self.sharded:
                fsdp.reshard(self.model)
        if self.acc.is_main_process:
            if self.metric == "loss":
                metrics: dict[str, Any] = {"loss": outputs.loss}
            else:
                decoded = decode(outputs, data.validation, data.validation_examples, self.task)
                metrics = split_metrics(
                    decoded, data.validation, data.validation_examples, self.task, outputs.loss
                )
            result = [metrics]
        if self.world > 1:
            broadcast_object_list(result)
        return result[0]

    def _after_eval(self, metrics: dict[str, Any], progress: Progress) -> None:
        state = self.state
        state.last_eval_step = state.step
        value = primary(metrics, self.metric)
        epoch = state.step / max(1, self.steps_per_epoch)
        record: dict[str, Any] = {"step": state.step, "epoch": round(epoch, 4), "kind": "eval"}
        record |= {
            f"validation/{k}": v
            for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        record["elapsed"] = round(state.elapsed, 3)
        if self._improves(value):
            state.best_metric, state.best_step, state.best_epoch = value, state.step, epoch
            state.bad_evals = 0
            state.validation = {k: v for k, v in metrics.items()}
            self.best_weights = self.weights()
            if self.acc.is_main_process:
                ckpt.write_best(self.ckpt_dir, state.step, self.best_weights, {"metric": value})
            record["best"] = True
        else:
            state.bad_evals += 1
        if self.acc.is_main_process:
            self.log.write(record)
        progress.note(metric=f"{self.metric} {value:.4f}")
        stopping = self.schedule.early_stopping
        if stopping is not None and state.bad_evals >= stopping.patience:
            state.stopped = "early_stopping"

    def _improves(self, value: float) -> bool:
        """Whether `value` beats the best so far by more than early_stopping.min_delta."""
        best = self.state.best_metric
        if best is None:
            return True
        stopping = self.schedule.early_stopping
        min_delta = stopping.min_delta if stopping is not None else 0.0
        maximize = self.metric != "loss" and self.task.metric_direction == "maximize"
        return value > best + min_delta if maximize else value < best - min_delta

    # ------------------------------------------------------------------ the loop

    def fit(self, progress: Progress) -> TrainState:
        """Train until the last epoch, early stopping or the time budget."""
        state = self.state
        budget = self.schedule.time_budget_s
        eval_every = self.schedule.eval_every
        ckpt_every = self.schedule.checkpoint_every
        started = time.perf_counter() - state.elapsed
        loss_sum = torch.zeros((), device=self.acc.device)
        window = {"steps": 0, "samples": 0, "tokens": 0, "seconds": 0.0}
        self.model.train()
        while state.epoch < self.schedule.epochs and state.stopped is None:
            steps = self.sampler.steps(state.epoch, self.accum)
            for step in steps[state.position // self.accum :]:
                watch.note_step(self.rank, self.world, state.step + 1)
                t0 = time.perf_counter()
                loss_sum += self._step(step)
                seconds = time.perf_counter() - t0
                lengths = self.data.train.lengths
                real = int(sum(int(lengths[b].sum()) for b in step.batches))
                padded = int(sum(len(b) * int(lengths[b].max()) for b in step.batches))
                state.step += 1
                state.position += self.accum  # a step's worth, whatever the last step holds
                state.samples += step.rows
                state.tokens += real
                state.padded_tokens += padded
                state.train_seconds += seconds
                state.elapsed = time.perf_counter() - started
                for key, value in (("steps", 1), ("samples", step.rows), ("tokens", real)):
                    window[key] += value
                window["seconds"] += seconds
                progress.advance(1)
                if state.step % self.log_every == 0:
                    self._log_train(loss_sum, window, progress)
                    loss_sum = torch.zeros((), device=self.acc.device)
                    window = dict.fromkeys(window, 0)
                if eval_every and state.step % eval_every == 0:
                    self._eval_now(progress, started)
                if ckpt_every and state.step % ckpt_every == 0:
                    self.save_checkpoint()
                if budget is not None and self._out_of_time(time.perf_counter() - started, budget):
                    state.stopped = "time_budget"
                if state.stopped:
                    break
            if state.stopped:
                break
            state.epoch += 1
            state.position = 0
            if state.last_eval_step != state.step:
                self._eval_now(progress, started)
            if state.epoch < self.schedule.epochs:  # after the last epoch: the final save below
                self.save_checkpoint()
        if state.stopped is None:
            state.stopped = "completed"
        elif state.last_eval_step != state.step:
            self._eval_now(progress, started)  # the last model competes for best too
        state.elapsed = time.perf_counter() - started
        self.save_checkpoint()
        return state

    def _out_of_time(self, elapsed: float, budget: float) -> bool:
        """Whether the time budget is spent, agreed by every process (the first one out of
        time stops them all at the same step; else the others would wait in a collective)."""
        over = elapsed >= budget
        if self.world == 1:
            return over
        import torch.distributed as dist

        flag = torch.tensor([1.0 if over else 0.0], device=self.acc.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    def _eval_now(self, progress: Progress, started: float) -> None:
        metrics = self.evaluate()
        self.state.elapsed = time.perf_counter() - started
        if metrics is not None:
            self._after_eval(metrics, progress)
        self.model.train()

    def _step(self, step: Step) -> torch.Tensor:
        """One optimizer step over this process's micro-batches; returns the mean loss of its
        real ones (what the log shows, as before: rank 0's)."""
        total = torch.zeros((), device=self.acc.device)
        real = max(1, sum(rows is not None for rows in step.micro))
        for j, rows in enumerate(step.micro):
            weight = step.weight if rows is not None else 0.0
            rows = rows if rows is not None else step.batches[0]
            batch = collate(self.data.train, rows, self.data.pad_id)
            batch = {k: v.to(self.acc.device, non_blocking=True) for k, v in batch.items()}
            last = j == len(step.micro) - 1
            if self.sharded:
                fsdp.set_gradient_sync(self.model, last)
            sync = (
                contextlib.nullcontext()
                if last or self.world == 1 or self.sharded
                else self.acc.no_sync(self.model)
            )
            with sync, self.acc.autocast():
                loss = self.head.loss(self.model, batch, self.task, self.data.loss_scale)
            self.acc.backward(loss * weight)
            if weight:
                total += loss.detach() / real
        if getattr(self.acc, "scaler", None) is not None:  # fp16: clip the true gradients
            self.acc.unscale_gradients()
        if self.sharded:
            fsdp.clip(self.params, self.schedule.max_grad_norm)
        else:
            clip_gradients(self.params, self.schedule.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total

    def _log_train(
        self, loss_sum: torch.Tensor, window: dict[str, Any], progress: Progress
    ) -> None:
        state = self.state
        loss = float(loss_sum) / max(1, window["steps"])
        seconds = max(window["seconds"], 1e-9)
        record = {
            "step": state.step,
            "epoch": round(state.step / max(1, self.steps_per_epoch), 4),
            "kind": "train",
            "loss": loss,
            "lr": self.scheduler.get_last_lr()[0],
            "samples_per_s": round(window["samples"] / seconds, 2),
            "tokens_per_s": round(window["tokens"] / seconds, 1),
            "elapsed": round(state.elapsed, 3),
        }
        if self.acc.is_main_process:
            self.log.write(record)
        progress.note(loss=f"loss {loss:.4f}")

    def load_best(self) -> None:
        """Put the best evaluated weights back into the model (no-op without validation)."""
        if self.best_weights is not None and self.sharded:  # rank 0 holds them
            fsdp.load_weights(self.model, self.best_weights, from_rank0=True)
        elif self.best_weights is not None:
            self.unwrapped().load_state_dict(self.best_weights)


def use_sparse_embeddings(device_type: str, world: int) -> bool:
    """Whether the word embeddings get sparse gradients and a lazy AdamW row update.

    It pays off on a CPU, where the dense update of the 30522 x 384 matrix and its moments is
    memory-bound. Not on a GPU: on an H100 it made a bf16 minilm-l6 step 4x slower (97 vs 24 ms).
    Not under DDP either, whose gradient all-reduce needs dense gradients.
    """
    return device_type == "cpu" and world == 1


def _labelled(encoded: Encoded) -> bool:
    return encoded.targets is not None or encoded.token_targets is not None
