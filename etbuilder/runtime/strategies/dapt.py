"""`dapt`: masked-LM training of the backbone on in-domain text, then the downstream strategy
(`plan.strategy.then`) on the task, starting from the adapted weights.

The phase runs before the task model is built (`before_training` hook) and leaves a full
transformers masked-LM folder (encoder + MLM head + tokenizer) in `<run>/dapt/model`; the
returned plan is the downstream plan with that folder as its backbone. A finished phase (marked
by `dapt/done.json`) is not run again on resume. The MLM loss on a held-out slice of the corpus,
before and after, is written to `dapt/done.json`.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from etbuilder.data import Examples
from etbuilder.errors import DataError, RunError
from etbuilder.plan import DaptPlan, Plan
from etbuilder.runtime.encode import TOKENIZER_FILES, load_fast_tokenizer
from etbuilder.runtime.models import quiet_transformers
from etbuilder.runtime.strategies.base import planned
from etbuilder.runtime.strategies.mlm import heldout_loss, mlm_batch, mlm_loss, tokenize

HELDOUT_FRACTION = 0.05
"""Share of the corpus kept out of training to measure the MLM loss (at most HELDOUT_MAX)."""
HELDOUT_MAX = 256


def read_corpus(plan: Plan, train: Examples) -> list[str]:
    """The corpus texts: a text file (a line each), a column of a table, or the training texts."""
    dapt = planned(plan, DaptPlan)
    path, column = dapt.corpus, dapt.corpus_column
    if path is None:
        return list(train.texts)
    file = Path(path)
    try:
        if column is None:
            return [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        if file.suffix == ".jsonl":
            rows = [json.loads(line) for line in file.open(encoding="utf-8") if line.strip()]
            return [str(r[column]) for r in rows if r.get(column) is not None]
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            return [str(v) for v in pq.read_table(file, columns=[column]).column(0).to_pylist()]
        delimiter = "\t" if file.suffix in (".tsv", ".txt") else ","
        with file.open(encoding="utf-8", newline="") as handle:
            return [str(r[column]) for r in csv.DictReader(handle, delimiter=delimiter)]
    except KeyError:
        raise DataError(
            f"strategy.corpus_column: {column!r} is not a column of {file}",
            file=str(file),
            column=str(column),
            hint="set strategy.corpus_column to one of the file's columns",
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"cannot read the dapt corpus {file}: {error}", file=str(file)) from None


def load_mlm_model(path: str) -> Any:
    """The backbone with its masked-LM head (freshly initialised when the weights lack one)."""
    from transformers import AutoModelForMaskedLM

    with quiet_transformers():
        return AutoModelForMaskedLM.from_pretrained(path, attn_implementation="sdpa")


def train_mlm(plan: Plan, texts: list[str], folder: Path, device: Any) -> dict[str, Any]:
    """`strategy.steps` AdamW steps of masked-LM on `texts`; saves model + tokenizer in `folder`."""
    dapt, sched = planned(plan, DaptPlan), plan.schedule
    tokenizer = load_fast_tokenizer(plan.backbone.path)
    if getattr(tokenizer, "mask_token_id", None) is None:
        raise RunError(f"strategy dapt: the tokenizer of {plan.backbone.name} has no mask token")
    rows = tokenize(tokenizer, texts, plan.task.max_length)
    if len(rows) < 2:
        raise RunError("strategy dapt: the corpus holds fewer than 2 non-empty texts")
    random.Random(sched.seed).shuffle(rows)
    n_held = min(HELDOUT_MAX, max(1, int(len(rows) * HELDOUT_FRACTION)))
    held, train = rows[:n_held], rows[n_held:]
    probability = dapt.mlm_probability
    model = load_mlm_model(plan.backbone.path).to(device)
    before = heldout_loss(model, tokenizer, held, probability, seed=sched.seed, device=device)
    steps, lr = dapt.steps, dapt.learning_rate
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=sched.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / steps))
    generator = torch.Generator().manual_seed(sched.seed)
    model.train()
    start, order, cursor = time.perf_counter(), list(range(len(train))), len(train)
    for _step in range(steps):
        if cursor + sched.batch_size > len(order):
            random.Random(sched.seed + _step).shuffle(order)
            cursor = 0
        picked = [train[i] for i in order[cursor : cursor + sched.batch_size]]
        cursor += sched.batch_size
        batch = mlm_batch(tokenizer, picked, probability, generator)
        loss = mlm_loss(model, {k: v.to(device) for k, v in batch.items()})
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), sched.max_grad_norm or 1e9)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - start
    after = heldout_loss(model, tokenizer, held, probability, seed=sched.seed, device=device)
    with quiet_transformers():
        model.save_pretrained(str(folder), safe_serialization=True)
    keep_pooler(Path(plan.backbone.path), folder, str(model.base_model_prefix))
    for name in TOKENIZER_FILES:
        if (Path(plan.backbone.path) / name).is_file():
            shutil.copyfile(Path(plan.backbone.path) / name, folder / name)
    return {
        "steps": steps,
        "texts": len(train),
        "heldout_texts": len(held),
        "heldout_mlm_loss_before": round(before, 5),
        "heldout_mlm_loss_after": round(after, 5),
        "seconds": round(seconds, 2),
    }


def keep_pooler(source: Path, folder: Path, prefix: str) -> int:
    """Copy the backbone's pooler weights into the adapted `folder/model.safetensors`.

    A masked-LM model has no pooler, so without this the downstream task model would start
    from a random pooler instead of the backbone's (masked-LM training never changes it).
    Returns the number of tensors copied (0 when either side is not one safetensors file)."""
    from safetensors.torch import load_file, save_file

    target = folder / "model.safetensors"
    files = sorted(source.glob("*.safetensors"))
    if not target.is_file() or len(files) != 1:
        return 0
    pooler = {
        f"{prefix}.{key.removeprefix(prefix + '.')}": value
        for key, value in load_file(str(files[0])).items()
        if key.startswith("pooler.") or key.startswith(f"{prefix}.pooler.")
    }
    if not pooler:
        return 0
    weights = load_file(str(target))
    save_file(weights | pooler, str(target), metadata={"format": "pt"})
    return len(pooler)


def downstream_plan(plan: Plan, folder: Path) -> Plan:
    """The plan of the downstream strategy, on the adapted backbone."""
    then = planned(plan, DaptPlan).then
    backbone = plan.backbone.model_copy(update={"path": str(folder), "has_mlm_head": True})
    return plan.model_copy(update={"strategy": then, "backbone": backbone})


def adapt(plan: Plan, run_dir: Path, examples: dict[str, Examples], accelerator: Any) -> Plan:
    """Run (or, when done, reuse) the masked-LM phase; returns the downstream plan."""
    root = run_dir / "dapt"
    folder, marker = root / "model", root / "done.json"
    if accelerator.is_main_process and not marker.is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        texts = read_corpus(plan, examples["train"])
        summary = train_mlm(plan, texts, folder, accelerator.device)
        marker.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    accelerator.wait_for_everyone()
    return downstream_plan(plan, folder)
