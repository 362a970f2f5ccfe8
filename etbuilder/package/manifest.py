"""manifest.json: what the app serves, with which limits, measured how, built from what."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from etbuilder import __version__
from etbuilder.plan import Plan
from etbuilder.plan.tasks import TASK_RULES

MANIFEST_VERSION = 1


def input_kind(plan: Plan) -> str:
    """'pair' when the served model reads two texts, else 'text'."""
    two = len(plan.task.text_columns) == 2
    return "pair" if TASK_RULES[plan.task.type].reads_pairs and two else "text"


def base_manifest(plan: Plan, run_dir: Path, pad_id: int) -> dict[str, Any]:
    """Everything known before the model is measured; `model`/`quality` are filled in later."""
    server = plan.deploy.server
    task = plan.task
    rule = TASK_RULES[task.type]
    options: dict[str, Any] = {}
    if task.threshold is not None:
        options["threshold"] = task.threshold
    if rule.output == "vector":
        options["normalize"] = task.normalize is not False
        options["pooling"] = task.pooling
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": plan.spec.name,
        "description": plan.spec.description,
        "task": {
            "type": task.type,
            "output": rule.output,
            "labels": list(task.labels),
            "max_length": task.max_length,
            "text_columns": list(task.text_columns),
            "label_column": task.label_column,
            "metric": task.metric,
            "metric_direction": task.metric_direction,
            "head": task.head,
            "options": options,
        },
        "inputs": {
            "kind": input_kind(plan),
            "max_batch_size": server.max_batch_size,
            "max_text_chars": server.max_text_chars,
            "max_body_bytes": server.max_body_bytes,
            "batch_wait_ms": server.batch_wait_ms,
            "truncation": f"texts longer than {task.max_length} tokens are truncated",
        },
        "tokenizer": {"file": "tokenizer.json", "pad_id": pad_id},
        "model": {"served": "onnx/model.onnx", "precision": "fp32", "reason": "not measured yet"},
        "backbone": {
            "name": plan.backbone.name,
            "architecture": plan.backbone.architecture,
            "parameters": plan.backbone.parameters,
        },
        "strategy": plan.strategy.type,
        "etbuilder_version": __version__,
        "spec_hash": plan.spec_hash,
        "created_from": str(run_dir.resolve()),
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
