"""The end of a run: save the best model, score the test split, write predictions and report,
and record the measured throughput for the compiler's next time estimate."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from etbuilder.compiler.throughput import record_run, training_flops_per_second
from etbuilder.data import Examples
from etbuilder.plan import Plan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.report.rundir import MetricsLog, write_atomic
from etbuilder.report.writer import write_report
from etbuilder.runtime.encode import Encoded
from etbuilder.runtime.inference import decode, prediction_rows, run_model, split_metrics
from etbuilder.runtime.models import save_model
from etbuilder.runtime.result import RunResult
from etbuilder.runtime.trainer_surface import TrainerSurface

MIN_STEPS_TO_RECORD = 20
"""Throughput is recorded only from runs with at least this many optimizer steps."""


def save_model_atomic(model: Any, plan: Plan, run_dir: Path, tokenizer: Any) -> Path:
    """`model/` in Hugging Face format, written aside and renamed into place."""
    final = run_dir / "model"
    for leftover in run_dir.glob(".model-*"):  # from a process killed while saving
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = run_dir / f".model-{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, plan, tmp, tokenizer)
    old = run_dir / f".model-{os.getpid()}.old"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def evaluate_split(
    plan: Plan,
    model: Any,
    examples: Examples,
    encoded: Encoded,
    *,
    pad_id: int,
    device: Any = "cpu",
    autocast: Any = None,
    loss_scale: dict[str, float] | None = None,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Metrics (None when unlabelled or nothing to score) and prediction rows of one split."""
    task = plan.task
    if TASK_RULES[task.type].output == "vector" and examples.pairs is None:
        return None, []
    outputs = run_model(
        model,
        encoded,
        task,
        batch_size=max(8, plan.schedule.batch_size * 2),
        pad_id=pad_id,
        device=device,
        autocast=autocast,
        loss_scale=loss_scale,
    )
    decoded = decode(outputs, encoded, examples, task)
    rows = prediction_rows(decoded, examples, task)
    if not examples.labelled:
        return None, rows
    return split_metrics(decoded, encoded, examples, task, outputs.loss), rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(r, default=_plain) + "\n" for r in rows))


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def finalize(
    plan: Plan,
    run_dir: Path,
    model: Any,
    tokenizer: Any,
    examples: dict[str, Examples],
    encoded: dict[str, Encoded],
    trainer: TrainerSurface | None,
    accelerator: Any,
    log: MetricsLog,
) -> RunResult:
    """Save, evaluate, predict, report (main process only)."""

    save_model_atomic(model, plan, run_dir, tokenizer)
    scale = trainer.data.loss_scale if trainer is not None else None
    metrics: dict[str, Any] = {}
    predictions: list[dict[str, Any]] = []
    for split in ("test", "validation"):
        if split not in examples:
            continue
        if split == "validation" and trainer is not None and trainer.state.validation:
            metrics["validation"] = trainer.state.validation
            continue
        values, rows = evaluate_split(
            plan,
            model,
            examples[split],
            encoded[split],
            pad_id=int(tokenizer.pad_token_id or 0),
            device=accelerator.device,
            autocast=accelerator.autocast,
            loss_scale=scale,
        )
        if values is not None:
            metrics[split] = values
        if split == "test":
            predictions = rows
            write_jsonl(run_dir / "predictions.jsonl", rows)
    metrics |= run_figures(plan, trainer)
    if trainer is not None:
        metrics |= trainer.strategy_figures
    write_report(run_dir, plan, metrics, predictions, log.records)
    if trainer is not None and trainer.records_throughput:
        record_throughput(plan, trainer.state)
    return RunResult(run_dir, metrics, "finished")


def run_figures(plan: Plan, trainer: TrainerSurface | None) -> dict[str, Any]:
    """Top-level numbers of the run: steps, best epoch, time, throughput."""
    if trainer is None:
        return {"trained": False}
    state = trainer.state
    seconds = max(state.train_seconds, 1e-9)
    return {
        "steps": state.step,
        "epochs_completed": state.epoch,
        "stopped": state.stopped,
        "best_step": state.best_step,
        "best_epoch": state.best_epoch,
        "selection_metric": trainer.metric,
        "train_seconds": round(state.train_seconds, 2),
        "elapsed_seconds": round(state.elapsed, 2),
        "samples_per_s": round(state.samples / seconds, 2),
        "tokens_per_s": round(state.tokens / seconds, 1),
        "padding_fraction": round(1 - state.tokens / max(1, state.padded_tokens), 4),
        "gflops_per_s": round(training_flops_per_second(plan, state.tokens, seconds) / 1e9, 2),
    }


def record_throughput(plan: Plan, state: Any) -> None:
    """Append this run's FLOP/s to the machine's throughput file (read by `etb plan`)."""
    if state.step < MIN_STEPS_TO_RECORD or state.train_seconds <= 0:
        return
    tokens = state.tokens // max(1, plan.compute.world_size)
    with contextlib.suppress(OSError):  # a read-only home: the estimate keeps its default
        record_run(plan, tokens, state.train_seconds)
