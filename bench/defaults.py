"""The compiler's training defaults against a small grid, per dataset and strategy.

For each dataset of ../shared/data (slices where stated), the test metric of a run with every
`train:` value left unset (the compiler chooses) next to the runs of a small grid over the
learning rate and epochs; the grid's best is picked on the test metric itself (an oracle: the
comparison flatters the grid, not the defaults). `features` also gets scikit-learn's
LogisticRegression (C=1, or RidgeCV for regression) on the very vectors the run cached.

    .venv/bin/python bench/defaults.py features [--only banking77,sst2]
    .venv/bin/python bench/defaults.py finetune     # finetune and lora on an SST-2 slice
    .venv/bin/python bench/defaults.py strategies [--only freeze,distill,dapt] [--slice sst2-1000]
    .venv/bin/python bench/defaults.py mlp [--only sst2,mrpc]   # the features MLP head
    smoke: --smoke (tiny slices, one grid point)

Prints one JSON line per run and a table per dataset with ratios to the grid's best.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Dataset:
    name: str
    data: str
    """The spec's `data:` mapping body, `{DIR}` for the folder the slices are written to."""
    task: str
    slices: dict[str, tuple[str, int, bool]]
    """Output file -> (source file under DATA, rows to sample, has a header line)."""
    per_token: bool = False


DATASETS: dict[str, Dataset] = {
    "banking77": Dataset(
        "banking77",
        f"{{train: {DATA}/banking77/train.csv, test: {DATA}/banking77/test.csv}}",
        "{type: classification, text: text, label: category, metric: accuracy}",
        {},
    ),
    "sst2": Dataset(
        "sst2",
        f"{{train: {{DIR}}/train.tsv, test: {DATA}/sst2_glue/test.tsv, quoting: false}}",
        "{type: classification, text: sentence, label: label}",
        {"train.tsv": ("sst2_glue/train.tsv", 4000, True)},
    ),
    "ag_news": Dataset(
        "ag_news",
        "{train: {DIR}/train.tsv, test: {DIR}/test.tsv, quoting: false, header: false, "
        "columns: [text, label]}",
        "{type: classification, text: text, label: label}",
        {
            "train.tsv": ("ag_news/dev.tsv", 4000, False),
            "test.tsv": ("ag_news/test.tsv", 2000, False),
        },
    ),
    "mrpc": Dataset(
        "mrpc",
        f"{{train: {DATA}/mrpc/msr_paraphrase_train.txt, test: {DATA}/mrpc/msr_paraphrase_test.txt,"
        " format: tsv, quoting: false, header: false, encoding: utf-8-sig, "
        "columns: [quality, id1, id2, s1, s2]}",
        "{type: pair_classification, text: [s1, s2], label: quality}",
        {},
    ),
    "stsb": Dataset(
        "stsb",
        f"{{train: {DATA}/stsb/stsb-en-train.csv, validation: {DATA}/stsb/stsb-en-dev.csv, "
        f"test: {DATA}/stsb/stsb-en-test.csv, header: false, columns: [s1, s2, score]}}",
        "{type: regression, text: [s1, s2], label: score}",
        {},
    ),
    "sms_spam": Dataset(
        "sms_spam",
        f"{{train: {DATA}/sms_spam/SMSSpamCollection, format: tsv, quoting: false, "
        "header: false, columns: [label, text], split: {validation: 0.1, test: 0.2}}",
        "{type: classification, text: text, label: label}",
        {},
    ),
    "wnut17": Dataset(
        "wnut17",
        f"{{train: {DATA}/wnut17/wnut17train.conll, validation: {DATA}/wnut17/emerging.dev.conll,"
        f" test: {DATA}/wnut17/emerging.test.annotated, format: conll}}",
        "{type: ner}",
        {},
        per_token=True,
    ),
}

FEATURE_GRID = [(lr, epochs) for lr in (1e-3, 1e-2) for epochs in (10, 40)]
"""(learning rate, epochs) of a mini-batch AdamW head on the cached features."""
FINETUNE_GRID = {"finetune": (3e-5, 1e-4, 3e-4), "lora": (3e-4, 1e-3, 3e-3)}
"""Learning rates at the compiler's epochs (the middle one is the compiler's own rate)."""
STRATEGY_SPECS = {
    "freeze": "{type: freeze, layers: 3}",
    "distill": "{type: distill, teacher: TEACHER, student_layers: 3}",
    "dapt": "{type: dapt, steps: 100}",
    "dapt-mlm-3e-5": "{type: dapt, steps: 100, learning_rate: 3.0e-5}",
    "dapt-mlm-1e-5": "{type: dapt, steps: 100, learning_rate: 1.0e-5}",
    "finetune": "{type: finetune}",
    "lora": "{type: lora}",
}
"""The strategies `strategies` measures (distill's teacher: the slice's default finetune run;
dapt: 100 masked-LM steps on the slice's own texts, then finetune; the `dapt-mlm-*` variants fix
the masked-LM phase's rate, so that their grid moves the task phase's rate alone)."""
RATE_FACTORS = (1 / 3, 1.0, 3.0)
"""A strategy's grid: these multiples of the compiler's (body) rate, each at the compiler's epochs
without early stopping, the best epoch on validation kept (so shorter runs are covered too);
the default run (the compiler's rate, with its early stopping) joins them. A new classification
head keeps the compiler's head rate at every point (`train.head_learning_rate` unset), so the
grid moves the body's rate."""
MLP_GRID = [(lr, epochs) for lr in (1e-3, 3e-3, 1e-2) for epochs in (10, 40)]
"""(learning rate, epochs) of the MLP head (hidden 256, GELU) on the cached features."""

SLICES: dict[str, Dataset] = {
    "sst2-1000": Dataset(
        "sst2-1000",
        f"{{train: {{DIR}}/train.tsv, test: {DATA}/sst2_glue/test.tsv, quoting: false}}",
        "{type: classification, text: sentence, label: label}",
        {"train.tsv": ("sst2_glue/train.tsv", 1000, True)},
    ),
    "mrpc-1000": Dataset(
        "mrpc-1000",
        "{train: {DIR}/train.tsv, test: {DIR}/test.tsv, format: tsv, quoting: false, "
        "header: false, columns: [quality, id1, id2, s1, s2]}",
        "{type: pair_classification, text: [s1, s2], label: quality}",
        {
            "train.tsv": ("mrpc/msr_paraphrase_train.txt", 1000, False),
            "test.tsv": ("mrpc/msr_paraphrase_test.txt", 500, False),
        },
    ),
    "stsb-1000": Dataset(
        "stsb-1000",
        "{train: {DIR}/train.csv, test: {DIR}/test.csv, header: false, columns: [s1, s2, score]}",
        "{type: regression, text: [s1, s2], label: score}",
        {
            "train.csv": ("stsb/stsb-en-train.csv", 1000, False),
            "test.csv": ("stsb/stsb-en-test.csv", 500, False),
        },
    ),
    "sms-1500": Dataset(
        "sms-1500",
        "{train: {DIR}/train.tsv, format: tsv, quoting: false, header: false, "
        "columns: [label, text], split: {validation: 0.1, test: 0.25}}",
        "{type: classification, text: text, label: label}",
        {"train.tsv": ("sms_spam/SMSSpamCollection", 1500, False)},
    ),
    "ag_news-1000": Dataset(
        "ag_news-1000",
        DATASETS["ag_news"].data,
        DATASETS["ag_news"].task,
        {
            "train.tsv": ("ag_news/dev.tsv", 1000, False),
            "test.tsv": ("ag_news/test.tsv", 1000, False),
        },
    ),
    "banking77-1000": Dataset(
        "banking77-1000",
        f"{{train: {{DIR}}/train.csv, test: {DATA}/banking77/test.csv, "
        "split: {validation: 0.1, stratify: false}}",
        "{type: classification, text: text, label: category, metric: accuracy}",
        {"train.csv": ("banking77/train.csv", 1000, True)},
    ),
    "wnut17-1000": Dataset(
        "wnut17-1000",
        f"{{train: {DATA}/wnut17/wnut17train.conll, validation: {DATA}/wnut17/emerging.dev.conll,"
        f" test: {DATA}/wnut17/emerging.test.annotated, format: conll, max_train_rows: 1000}}",
        "{type: ner}",
        {},
        per_token=True,
    ),
}
"""Slices for the strategies that train the backbone (about 1,000 training rows each; sms:
1,500 sampled, split 65/10/25; wnut17: its first 1,000 training sentences)."""


SLICE_SEED = [0]
"""The seed of the slices' samples (`--seed`; 0 for every table before the second seed)."""


def write_slices(dataset: Dataset, folder: Path, smoke: bool) -> None:
    """Seeded random samples of line-per-row files, header kept."""
    for out, (source, rows, header) in dataset.slices.items():
        if source.endswith(".csv"):  # quoted fields may span lines: sample records
            with (DATA / source).open(encoding="utf-8", newline="") as handle:
                records = list(csv.reader(handle))
            top, rest = (records[:1], records[1:]) if header else ([], records)
            rest = random.Random(SLICE_SEED[0]).sample(rest, min(len(rest), rows))
            with (folder / out).open("w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerows(top + rest)
            continue
        text = (DATA / source).read_text(encoding="utf-8").removeprefix("\ufeff")
        lines = text.splitlines(keepends=True)
        head, body = (lines[:1], lines[1:]) if header else ([], lines)
        body = random.Random(SLICE_SEED[0]).sample(body, min(len(body), 300 if smoke else rows))
        (folder / out).write_text("".join(head + body), encoding="utf-8")


def spec_text(dataset: Dataset, folder: Path, strategy: str, train: str) -> str:
    return (
        f"etb: 1\nname: defaults-{dataset.name}\n"
        f"data: {dataset.data.replace('{DIR}', str(folder))}\n"
        f"task: {dataset.task}\nbackbone: {{model: minilm-l6}}\n"
        f"strategy: {strategy}\n" + (f"train: {train}\n" if train else "")
    )


def run(dataset: Dataset, folder: Path, label: str, strategy: str, train: str) -> dict[str, Any]:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.report.metrics import primary
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec_text

    target = folder / label.replace(" ", "_").replace("=", "")
    target.mkdir(parents=True, exist_ok=True)
    plan = compile_spec(
        load_spec_text(spec_text(dataset, folder, strategy, train), base_dir=folder)
    )
    start = time.perf_counter()
    result = run_plan(plan, target / "run", quiet=True)
    wall = time.perf_counter() - start
    test = result.metrics["test"]
    out = {
        "dataset": dataset.name,
        "run": label,
        "metric": plan.task.metric,
        "test": round(float(primary(test, plan.task.metric)), 4),
        "accuracy": round(float(test["accuracy"]), 4) if "accuracy" in test else None,
        "epochs": plan.schedule.epochs,
        "learning_rate": plan.schedule.learning_rate,
        "stopped": result.metrics.get("stopped"),
        "train_seconds": result.metrics.get("train_seconds"),
        "wall_seconds": round(wall, 1),
    }
    if "head_l2" in result.metrics:
        out["head_l2"] = result.metrics["head_l2"]
    print(json.dumps(out), flush=True)
    out["plan"] = plan
    return out


def cached_arrays(plan: Any) -> dict[str, tuple[Any, Any]]:
    """(features, targets) of every split: train and validation from the run's cache, test
    through the same cache (one more pass of the frozen backbone)."""
    from etbuilder.runtime import setup
    from etbuilder.runtime.strategies.feature_cache import cached_features
    from etbuilder.runtime.strategies.features import head_module

    _, encoded, tokenizer = setup.load_data(plan)
    model, _ = setup.build(plan)
    name, head = head_module(plan, model)
    return {
        split: (
            cached_features(
                plan, split, model, (name, head), encoded[split], pad_id=setup.pad_id(tokenizer)
            ).values.numpy(),
            encoded[split].targets,
        )
        for split in ("train", "validation", "test")
    }


def score(metric: str, pred: Any, y: Any) -> float:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score

    if metric == "pearson":
        return float(pearsonr(pred, y)[0])
    if metric == "spearman":
        return float(spearmanr(pred, y)[0])
    if metric == "accuracy":
        return float(accuracy_score(y, pred))
    average = metric.split("_", 1)[1]
    return float(f1_score(y, pred, average=average))


def adamw_head(
    arrays: dict[str, tuple[Any, Any]], plan: Any, lr: float, epochs: int, hidden: int = 0
) -> dict[str, Any]:
    """The runtime's mini-batch recipe on the cached vectors: a linear head (or the MLP of
    width `hidden`), AdamW (weight decay 0.01), batch 32, linear decay without warmup, the
    best epoch on validation kept."""
    import math

    import numpy as np
    import torch
    from torch.nn import functional as F

    from etbuilder.plan.tasks import TASK_RULES
    from etbuilder.runtime.mlp_head import mlp as mlp_module

    numeric = TASK_RULES[plan.task.type].numeric
    x, y = (torch.from_numpy(np.asarray(a)) for a in arrays["train"])
    outputs = 1 if numeric else len(plan.task.labels)
    torch.manual_seed(plan.schedule.seed)
    head = (
        mlp_module(x.shape[1], hidden, outputs) if hidden else torch.nn.Linear(x.shape[1], outputs)
    )
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(x) / 32)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / steps))
    generator = torch.Generator().manual_seed(plan.schedule.seed)

    def predict(split: str) -> Any:
        with torch.no_grad():
            out = head(torch.from_numpy(np.asarray(arrays[split][0])))
        return out.squeeze(-1).numpy() if numeric else out.argmax(-1).numpy()

    best, best_state, start = None, None, time.perf_counter()
    lower = plan.task.metric_direction != "maximize"
    for _ in range(epochs):
        for rows in torch.randperm(len(x), generator=generator).split(32):
            out = head(x[rows])
            loss = (
                F.mse_loss(out.squeeze(-1), y[rows].float())
                if numeric
                else F.cross_entropy(out, y[rows].long())
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        value = score(plan.task.metric, predict("validation"), arrays["validation"][1])
        if best is None or (value < best if lower else value > best):
            best, best_state = value, {k: v.clone() for k, v in head.state_dict().items()}
    assert best_state is not None
    head.load_state_dict(best_state)
    return {
        "test": round(score(plan.task.metric, predict("test"), arrays["test"][1]), 4),
        "train_seconds": round(time.perf_counter() - start, 2),
    }


def sklearn_head(arrays: dict[str, tuple[Any, Any]], plan: Any) -> dict[str, Any]:
    """LogisticRegression (C=1) or RidgeCV on the same vectors."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression, RidgeCV

    from etbuilder.plan.tasks import TASK_RULES

    (x, y), (xt, yt) = arrays["train"], arrays["test"]
    start = time.perf_counter()
    if TASK_RULES[plan.task.type].numeric:
        pred = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x, y).predict(xt)
    else:
        pred = LogisticRegression(C=1.0, max_iter=5000).fit(x, y).predict(xt)
    out = {"test": round(score(plan.task.metric, pred, yt), 4)}
    if not TASK_RULES[plan.task.type].numeric:
        out["accuracy"] = round(score("accuracy", pred, yt), 4)
    return out | {"seconds": round(time.perf_counter() - start, 2)}


def features(names: list[str], smoke: bool, root: Path) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        dataset = DATASETS[name]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        write_slices(dataset, folder, smoke)
        default = run(dataset, folder, "default", "{type: features}", "")
        grid, sk = [], None
        points = FEATURE_GRID[:1] if smoke else FEATURE_GRID
        if dataset.per_token:  # ragged token vectors: the grid runs through etb itself
            for lr, epochs in points[::2]:
                label = f"adamw lr={lr:g} epochs={epochs}"
                train = f"{{learning_rate: {lr}, epochs: {epochs}}}"
                grid.append(run(dataset, folder, label, "{type: features, solver: adamw}", train))
        else:
            arrays = cached_arrays(default["plan"])
            for lr, epochs in points:
                result = adamw_head(arrays, default["plan"], lr, epochs)
                result |= {"run": f"adamw lr={lr:g} epochs={epochs}", "wall_seconds": 0.0}
                print(json.dumps({"dataset": name} | result), flush=True)
                result["wall_seconds"] = result["train_seconds"]
                grid.append(result)
            sk = sklearn_head(arrays, default["plan"])
            print(json.dumps({"dataset": name, "sklearn": sk}), flush=True)
        rows.append(summarise(name, "features", default, grid, sk))
    return rows


def finetuning(smoke: bool, root: Path) -> list[dict[str, Any]]:
    dataset = Dataset(
        "sst2-1000",
        f"{{train: {{DIR}}/train.tsv, test: {DATA}/sst2_glue/test.tsv, quoting: false}}",
        "{type: classification, text: sentence, label: label}",
        {"train.tsv": ("sst2_glue/train.tsv", 1000, True)},
    )
    folder = root / "sst2-1000"
    folder.mkdir(parents=True, exist_ok=True)
    write_slices(dataset, folder, smoke)
    rows = []
    for strategy, rates in FINETUNE_GRID.items():
        spec = f"{{type: {strategy}}}"
        default = run(dataset, folder, f"{strategy} default", spec, "")
        grid = [default | {"run": f"default (lr={default['learning_rate']:g})"}]
        for lr in rates[:1] if smoke else rates:
            if lr == default["learning_rate"]:
                continue
            train = f"{{learning_rate: {lr}, epochs: {default['epochs']}}}"
            grid.append(run(dataset, folder, f"{strategy} lr={lr:g}", spec, train))
        rows.append(summarise("sst2-1000", strategy, default, grid, None))
    return rows


def strategies(
    names: list[str], slice_name: str, rows_wanted: int, smoke: bool, root: Path
) -> list[dict[str, Any]]:
    """Each strategy of `names` on one slice (its training file cut to `rows_wanted` rows when
    given): the default run, then the compiler's rate times each of RATE_FACTORS but 1 at the
    compiler's epochs."""
    dataset = SLICES[slice_name]
    rows_wanted = 300 if smoke else rows_wanted  # write_slices' smoke size, named as such
    if rows_wanted:
        train = next(iter(dataset.slices))
        source, _, header = dataset.slices[train]
        dataset = Dataset(
            f"{slice_name.split('-')[0]}-{rows_wanted}"
            + (f"-seed{SLICE_SEED[0]}" if SLICE_SEED[0] else ""),
            dataset.data,
            dataset.task,
            dataset.slices | {train: (source, rows_wanted, header)},
        )
        slice_name = dataset.name
    folder = root / slice_name
    folder.mkdir(parents=True, exist_ok=True)
    write_slices(dataset, folder, smoke)
    teacher: Path | None = None
    rows = []
    for strategy in names:
        try:
            row = _strategy(dataset, folder, strategy, smoke, teacher)
        except Exception as error:  # a strategy the task refuses: say so, go on
            print(json.dumps({"dataset": dataset.name, "strategy": strategy, "error": str(error)}))
            continue
        if strategy == "finetune" and teacher is None:
            teacher = folder / "finetune_default" / "run"
        if strategy == "distill":
            teacher = folder / "teacher" / "run" if teacher is None else teacher
        rows.append(row)
    return rows


def _strategy(
    dataset: Dataset, folder: Path, strategy: str, smoke: bool, teacher: Path | None
) -> dict[str, Any]:
    """One strategy's default run and grid on one slice (distill: a teacher trained first when
    no finetune default run is there to be one)."""
    spec = STRATEGY_SPECS[strategy]
    if strategy == "distill":
        if teacher is None:
            taught = run(dataset, folder, "teacher", "{type: finetune}", "")
            teacher = folder / "teacher" / "run"
            print(json.dumps({"teacher": taught["test"]}), flush=True)
        spec = spec.replace("TEACHER", str(teacher))
    default = run(dataset, folder, f"{strategy} default", spec, "")
    grid = [default | {"run": f"default (lr={default['learning_rate']:g})"}]
    for factor in RATE_FACTORS[:1] if smoke else RATE_FACTORS:
        # x1: the default's rate at every epoch (no early stopping), its best epoch kept: the
        # point that tells the rate's effect from the early stop's
        lr = float(f"{default['learning_rate'] * factor:.2g}")
        # x1 sets the epochs alone: the compiler's rates (body and head) without early stopping
        train = (
            f"{{epochs: {default['epochs']}}}"
            if factor == 1.0
            else f"{{learning_rate: {lr}, epochs: {default['epochs']}}}"
        )
        label = f"{strategy} lr={lr:g}" + (" no-early-stop" if factor == 1.0 else "")
        grid.append(run(dataset, folder, label, spec, train))
    return summarise(dataset.name, strategy, default, grid, None)


def mlp(
    names: list[str], smoke: bool, root: Path, defaults_only: bool = False
) -> list[dict[str, Any]]:
    """The features MLP head: the default run through etb, the grid on its cached vectors."""
    rows = []
    for name in names:
        dataset = DATASETS[name]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        write_slices(dataset, folder, smoke)
        spec = "{type: features, head: mlp}"
        default = run(dataset, folder, "mlp default", spec, "")
        if defaults_only:
            continue
        grid = []
        points = MLP_GRID[:1] if smoke else MLP_GRID
        if dataset.per_token:
            for lr, epochs in points[::3]:
                label = f"mlp lr={lr:g} epochs={epochs}"
                train = f"{{learning_rate: {lr}, epochs: {epochs}}}"
                grid.append(run(dataset, folder, label, spec, train))
        else:
            arrays = cached_arrays(default["plan"])
            for lr, epochs in points:
                result = adamw_head(arrays, default["plan"], lr, epochs, hidden=256)
                result |= {"run": f"mlp lr={lr:g} epochs={epochs}"}
                print(json.dumps({"dataset": name} | result), flush=True)
                result["wall_seconds"] = result["train_seconds"]
                grid.append(result)
        rows.append(summarise(name, "features-mlp", default, grid, None))
    return rows


def summarise(
    name: str, strategy: str, default: dict[str, Any], grid: list[dict[str, Any]], sk: Any
) -> dict[str, Any]:
    lower = default["metric"] in ("mse", "mae")
    best = (min if lower else max)(grid, key=lambda r: r["test"])
    row = {
        "dataset": name,
        "strategy": strategy,
        "metric": default["metric"],
        "default": default["test"],
        "default_accuracy": default["accuracy"],
        "default_train_s": default["train_seconds"],
        "grid_best": best["test"],
        "grid_best_run": best["run"],
        "grid_seconds": round(sum(r["wall_seconds"] for r in grid), 1),
        "points": round(100 * (default["test"] - best["test"]), 2),
        "sklearn": sk,
    }
    print(json.dumps({"summary": row}), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["features", "finetune", "strategies", "mlp"])
    parser.add_argument("--only", default=None, help="datasets, or strategies for `strategies`")
    parser.add_argument("--slice", default="sst2-1000", choices=sorted(SLICES))
    parser.add_argument("--rows", type=int, default=0, help="training rows of the slice")
    parser.add_argument("--defaults-only", action="store_true", help="mlp: no grid")
    parser.add_argument("--seed", type=int, default=0, help="the slices' sampling seed")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    SLICE_SEED[0] = args.seed
    os.environ.setdefault("ETB_CACHE_DIR", tempfile.mkdtemp(prefix="etb-bench-cache-"))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="etb-defaults-") as tmp:
        if args.part in ("features", "mlp"):
            names = (args.only or ",".join(DATASETS)).split(",")
            if args.part == "features":
                rows = features(names, args.smoke, Path(tmp))
            else:
                rows = mlp(names, args.smoke, Path(tmp), args.defaults_only)
        elif args.part == "strategies":
            names = (args.only or ",".join(STRATEGY_SPECS)).split(",")
            rows = strategies(names, args.slice, args.rows, args.smoke, Path(tmp))
        else:
            rows = finetuning(args.smoke, Path(tmp))
    print(f"\n{'dataset':10} {'strategy':9} {'metric':9} {'default':>8} {'grid best':>9} "
          f"{'pts':>6} {'ratio':>6} {'sklearn':>8}  best run")  # fmt: skip
    for r in rows:
        ratio = r["default"] / r["grid_best"] if r["grid_best"] else float("nan")
        sk = f"{r['sklearn']['test']:8.4f}" if r["sklearn"] else f"{'-':>8}"
        print(
            f"{r['dataset']:10} {r['strategy']:9} {r['metric']:9} {r['default']:8.4f} "
            f"{r['grid_best']:9.4f} {r['points']:6.2f} {ratio:6.3f} {sk}  {r['grid_best_run']}"
        )
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
