"""Transfer-learning strategies side by side on sst2_glue: accuracy, train time, trainable
parameters, inference speed. Same train slice (the first N rows of train.tsv, 10% carved out for
validation), the same 872-row test.tsv (GLUE dev), minilm-l6, one process each in turn.

    .venv/bin/python bench/strategies.py [--rows 1000] [--epochs 1] [--only finetune,features]
    smoke: --rows 160 --test-rows 64 --dapt-steps 10

`distill` distils the `finetune` run of the same invocation into a 3-layer student (run
finetune first); `dapt` runs --dapt-steps masked-LM steps on the training texts, then finetune.

Prints one JSON line per strategy and a table. `features` also reports its first epoch (cache
written) and the mean of the later epochs (head only) next to a finetune epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2_glue"
STRATEGIES = {
    "finetune": "{type: finetune}",
    "freeze": "{type: freeze, layers: 3, embeddings: true, lr_decay: 0.8}",
    "lora": "{type: lora, r: 8}",
    "dora": "{type: lora, variant: dora, r: 8}",
    "features": "{type: features}",
    "distill": "{type: distill, teacher: TEACHER, student_layers: 3}",
    "dapt": "{type: dapt, steps: DAPT_STEPS, then: {type: finetune}}",
}
LEARNING_RATES = {"features": 1e-2, "lora": 3e-3, "dora": 3e-3}
"""Head-only and adapter training take larger steps than full fine-tuning (5e-5)."""


def spec_text(folder: Path, strategy: str, args: argparse.Namespace) -> str:
    rows, epochs = args.rows, args.epochs
    train, test = folder / "train.tsv", folder / "test.tsv"
    with open(DATA / "train.tsv", encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(rows + 1)]
    train.write_text("".join(lines), encoding="utf-8")
    tests = (DATA / "test.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    test.write_text("".join(tests[: 1 + args.test_rows]), encoding="utf-8")
    lr = LEARNING_RATES.get(strategy, 5e-5)
    teacher = folder.parent / "finetune" / "run"
    chosen = (
        STRATEGIES[strategy]
        .replace("TEACHER", str(teacher))
        .replace("DAPT_STEPS", str(args.dapt_steps))
    )
    return (
        f"etb: 1\nname: bench-{strategy}\n"
        f"data: {{train: {train}, test: {test}, quoting: false, "
        "split: {validation: 0.1, test: 0.0}}\n"
        "task: {type: classification, text: sentence, label: label}\n"
        "backbone: {model: minilm-l6, max_length: 128}\n"
        f"strategy: {chosen}\n"
        f"train: {{epochs: {epochs}, batch_size: 32, learning_rate: {lr}, warmup: 0, seed: 7}}\n"
    )


def inference_rows_per_s(plan: Any, run: Path, texts: list[str]) -> float:
    """Rows per second of the saved model/ on `texts` (batch 32, fp32, this process), loaded
    as `etb predict` loads it (a features head keeps its mean pooling)."""
    import torch
    from transformers import AutoTokenizer

    from etbuilder.runtime.models import load_trained

    model = load_trained(plan, run / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(run / "model"))
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            batch = tokenizer(texts[i : i + 32], padding=True, truncation=True, max_length=128)
            model(**{k: torch.tensor(v) for k, v in batch.items()})
    return len(texts) / (time.perf_counter() - start)


def bench(strategy: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec_text

    folder.mkdir(parents=True, exist_ok=True)
    plan = compile_spec(load_spec_text(spec_text(folder, strategy, args), base_dir=folder))
    start = time.perf_counter()
    result = run_plan(plan, folder / "run", quiet=True)
    wall = time.perf_counter() - start
    records = [
        json.loads(line) for line in (folder / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    epoch_seconds = [r["epoch_seconds"] for r in records if "epoch_seconds" in r]
    texts = [line.split("\t")[0] for line in (folder / "test.tsv").read_text().splitlines()[1:]]
    out = {
        "strategy": strategy,
        "accuracy": round(result.metrics["test"]["accuracy"], 4),
        "trainable_parameters": plan.strategy.trainable_parameters,
        "train_seconds": result.metrics.get("train_seconds"),
        "wall_seconds": round(wall, 1),
        "inference_rows_per_s": round(inference_rows_per_s(plan, folder / "run", texts), 1),
    }
    if epoch_seconds:
        out["epoch_seconds"] = epoch_seconds
        out["feature_seconds"] = sum(r.get("feature_seconds", 0) for r in records)
    if "distill" in result.metrics:
        out["distill"] = result.metrics["distill"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--test-rows", type=int, default=872, help="first N of the 872")
    parser.add_argument("--dapt-steps", type=int, default=200)
    parser.add_argument("--only", default=",".join(STRATEGIES), help="distill needs finetune")
    args = parser.parse_args()
    os.environ.setdefault("ETB_CACHE_DIR", tempfile.mkdtemp(prefix="etb-bench-cache-"))
    results = []
    with tempfile.TemporaryDirectory(prefix="etb-bench-") as tmp:
        for name in args.only.split(","):
            result = bench(name, args, Path(tmp) / name)
            print(json.dumps(result), flush=True)
            results.append(result)
    print(f"\n{'strategy':10} {'acc':>7} {'trainable':>11} {'train s':>8} {'infer rows/s':>13}")
    for r in results:
        print(
            f"{r['strategy']:10} {r['accuracy']:7.4f} {r['trainable_parameters']:11,d} "
            f"{r['train_seconds'] or 0:8.1f} {r['inference_rows_per_s']:13.1f}"
        )


if __name__ == "__main__":
    main()
