"""A hand-built Plan and fake-but-consistent run results for each task type (report tests).

Imported by test_report.py; other tests may import `make_plan` too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from etbuilder.plan import (
    BackboneInfo,
    ComputePlan,
    DataPlan,
    Decision,
    DeployPlan,
    Estimates,
    FinetunePlan,
    HardwareInfo,
    LengthStats,
    NodeCommand,
    ParameterGroup,
    Plan,
    PlanWarning,
    PrecisionPlan,
    SchedulePlan,
    ServerLimits,
    SplitProfile,
    SplitSource,
    TaskPlan,
)
from etbuilder.report.metrics import compute_metrics
from etbuilder.spec import Spec

TASK_SPECS: dict[str, dict[str, Any]] = {
    "classification": {"type": "classification", "text": "review", "label": "sentiment"},
    "pair_classification": {"type": "pair_classification", "text": ["q1", "q2"], "label": "dup"},
    "multilabel": {"type": "multilabel", "text": "text", "label": "tags"},
    "regression": {"type": "regression", "text": ["s1", "s2"], "label": "score"},
    "embedding": {"type": "embedding", "text": ["s1", "s2"], "label": "score"},
    "ner": {"type": "ner"},
}
METRIC = {
    "classification": "accuracy",
    "pair_classification": "f1_binary",
    "multilabel": "f1_micro",
    "regression": "spearman",
    "embedding": "spearman",
    "ner": "entity_f1",
}
LABELS = {
    "classification": ["negative", "neutral", "positive"],
    "pair_classification": ["different", "duplicate"],
    "multilabel": ["billing", "bug", "feature", "praise"],
    "ner": ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"],
}


def make_plan(task_type: str = "classification", labels: list[str] | None = None) -> Plan:
    """A Plan with every required field set to plausible values for `task_type`."""
    labels = labels if labels is not None else LABELS.get(task_type, [])
    spec = Spec.model_validate(
        {
            "name": f"demo-{task_type}",
            "description": "A report test run.",
            "data": {"train": "/data/train.csv", "test": "/data/test.csv"},
            "task": TASK_SPECS[task_type],
        }
    )
    regression = task_type in ("regression", "embedding")
    counts = {} if regression else {lb: 10 * (i + 1) for i, lb in enumerate(labels)}
    lengths = LengthStats(p50=18, p90=40, p95=52, p99=90, max=140, mean=22.5, truncated=3)
    profiles = [
        SplitProfile(
            name=name,
            rows=rows,
            duplicates=2,
            label_counts=counts,
            target_stats={"min": 0.0, "max": 5.0, "mean": 2.6, "std": 1.4} if regression else None,
            lengths=lengths,
        )
        for name, rows in (("train", 800), ("validation", 100), ("test", 100))
    ]
    return Plan(
        etbuilder_version="0.1.0",
        spec=spec,
        spec_hash="ab" * 32,
        backbone=BackboneInfo(
            name="minilm-l6",
            source="zoo-package",
            path="/models/minilm",
            architecture="BertModel",
            model_type="bert",
            layers=6,
            hidden_size=384,
            heads=12,
            intermediate_size=1536,
            vocab_size=30522,
            max_positions=512,
            parameters=22_713_216,
        ),
        hardware=HardwareInfo(
            device="cpu",
            device_name="Intel Xeon",
            device_count=1,
            cpu_cores=2,
            memory_bytes=8 << 30,
            bf16=True,
        ),
        data=DataPlan(
            sources=[
                SplitSource(name="train", path="/data/train.csv", format="csv"),
                SplitSource(
                    name="validation", path="/data/train.csv", format="csv", carved_from_train=True
                ),
                SplitSource(name="test", path="/data/test.csv", format="csv"),
            ],
            profiles=profiles,
            train_test_overlap=4,
            fingerprint="cd" * 32,
        ),
        task=TaskPlan(
            type=task_type,  # type: ignore[arg-type]
            text_columns=["review"],
            label_column="sentiment",
            labels=labels,
            head=f"linear(384 -> {max(len(labels), 1)}) on cls pooling",
            loss="cross_entropy",
            metric=METRIC[task_type],
            metric_direction="maximize",
            pooling="cls",
            max_length=128,
        ),
        strategy=FinetunePlan(
            groups=[ParameterGroup(name="encoder", parameters=22_713_216, trainable=True)],
            trainable_parameters=22_714_371,
            actions=["train every parameter"],
        ),
        schedule=SchedulePlan(
            epochs=3,
            batch_size=32,
            accumulation=1,
            processes=1,
            global_batch=32,
            steps_per_epoch=25,
            total_steps=75,
            warmup_steps=7,
            learning_rate=5e-5,
            schedule="linear",
            weight_decay=0.01,
            max_grad_norm=1.0,
            seed=13,
            deterministic=False,
            time_budget_s=None,
            checkpoint_every=None,
            eval_every=None,
            keep_checkpoints=1,
        ),
        precision=PrecisionPlan(requested="auto", used="bf16", reason="the CPU has avx512_bf16"),
        compute=ComputePlan(
            engine="local",
            nodes=1,
            processes_per_node=1,
            world_size=1,
            parallelism="ddp",
            threads_per_process=2,
            commands=[NodeCommand(node=0, argv=["etb", "run", "spec.yaml"])],
        ),
        estimates=Estimates(
            parameters_total=22_714_371,
            parameters_trainable=22_714_371,
            memory_bytes={"total": 400 << 20},
            flops_per_epoch=1.2e13,
            seconds_per_epoch=60.0,
            seconds_total=180.0,
            time_basis="default throughput",
        ),
        deploy=DeployPlan(
            package=True,
            formats=["onnx", "torch"],
            quantization="auto",
            server=ServerLimits(
                max_batch_size=64, max_text_chars=10_000, max_body_bytes=1_000_000, batch_wait_ms=5
            ),
        ),
        decisions=[
            Decision(key="backbone.max_length", value=128, reason="p99 of train token lengths"),
            Decision(key="schedule.warmup_steps", value=7, reason="10% of 75 steps"),
            Decision(key="train.epochs", value=3, reason="schema default", source="default"),
        ],
        warnings=[PlanWarning(code="truncation", message="3 training texts exceed 128 tokens")],
        passes=["resolve_backbone", "read_data", "profile", "schedule"],
    )


def make_history(metric: str, epochs: int = 3, steps_per_epoch: int = 25) -> list[dict[str, Any]]:
    """metrics.jsonl-like records: a falling training loss per step, validation per epoch."""
    rng = np.random.default_rng(0)
    history: list[dict[str, Any]] = []
    for step in range(1, epochs * steps_per_epoch + 1):
        loss = 1.1 * np.exp(-step / 30) + 0.05 * rng.random()
        history.append(
            {
                "step": step,
                "epoch": step / steps_per_epoch,
                "loss": float(loss),
                "lr": 5e-5,
                "elapsed": step * 0.4,
            }
        )
        if step % steps_per_epoch == 0:
            epoch = step // steps_per_epoch
            history.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "validation/loss": 0.6 / epoch,
                    f"validation/{metric}": 0.6 + 0.1 * epoch - 0.05 * (epoch == 3),
                    "elapsed": step * 0.4,
                }
            )
    return history


def make_results(task_type: str, n: int = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metrics, test prediction rows) consistent with each other, for `task_type`."""
    rng = np.random.default_rng(1)
    labels = LABELS.get(task_type, [])
    if task_type in ("classification", "pair_classification"):
        k = len(labels)
        t = rng.integers(0, k, n)
        p = np.where(rng.random(n) < 0.75, t, rng.integers(0, k, n))
        scores = rng.uniform(0.4, 1.0, n)
        scores[(p != t).nonzero()[0][0]] = 0.999  # the most confident error
        text = (
            (lambda i: [f"question {i}?", f"other | question {i}"])
            if k == 2
            else (lambda i: f"review number {i} | with a pipe")
        )
        rows = [
            {
                "text": text(i),
                "label": labels[t[i]],
                "prediction": labels[p[i]],
                "score": float(scores[i]),
            }
            for i in range(n)
        ]
        test = compute_metrics(task_type, t, p, labels=labels)
    elif task_type == "multilabel":
        t = rng.random((n, len(labels))) < 0.4
        p = np.where(rng.random(t.shape) < 0.8, t, ~t)
        rows = [
            {
                "text": f"ticket {i}",
                "label": [lb for lb, on in zip(labels, t[i], strict=True) if on],
                "prediction": [lb for lb, on in zip(labels, p[i], strict=True) if on],
            }
            for i in range(n)
        ]
        test = compute_metrics(task_type, t, p, labels=labels)
    elif task_type in ("regression", "embedding"):
        t = rng.uniform(0, 5, n)
        p = np.clip(t + rng.normal(0, 0.6, n), 0, 5)
        p[7] = t[7] + 3.5  # the largest error
        rows = [
            {
                "text": [f"sentence {i}", f"another {i}"],
                "label": float(t[i]),
                "prediction": float(p[i]),
            }
            for i in range(n)
        ]
        test = compute_metrics(task_type, t, p, labels=[])
    else:
        sentences = [
            (
                ["John", "Smith", "lives", "in", "Paris"],
                ["B-PER", "I-PER", "O", "O", "B-LOC"],
                ["B-PER", "I-PER", "O", "O", "B-LOC"],
            ),
            (
                ["Mary", "met", "Bob", "in", "New", "York"],
                ["B-PER", "O", "B-PER", "O", "B-LOC", "I-LOC"],
                ["B-LOC", "O", "O", "O", "B-LOC", "O"],
            ),  # 4 wrong entities
            (["Berlin", "is", "big"], ["B-LOC", "O", "O"], ["B-LOC", "O", "O"]),
            (["Ann", "smiled"], ["B-PER", "O"], ["O", "O"]),  # 1 wrong entity
        ]
        rows = [{"tokens": s, "tags": t, "prediction": p} for s, t, p in sentences]
        test = compute_metrics(
            "ner", [r["tags"] for r in rows], [r["prediction"] for r in rows], labels=labels
        )
    metric = METRIC[task_type]
    validation = {metric: 0.7, "loss": 0.31}
    metrics = {
        "test": test,
        "validation": validation,
        "best_epoch": 2,
        "train_seconds": 125.4,
        "samples_per_second": 171.3,
    }
    return metrics, rows


def test_fixture_plans_are_valid_and_round_trip() -> None:
    for task_type in TASK_SPECS:
        plan = make_plan(task_type)
        assert Plan.from_json(plan.to_json()) == plan
        metrics, rows = make_results(task_type)
        assert metrics["test"][METRIC[task_type]] >= 0.0 and rows
