"""The L-BFGS token head's fit on wnut17, the old objective against the new, side by side.

old: chunks of 256 padded sentences (every position's vector through the head, the padding
and unlabelled sub-words masked out by the loss); new: the labelled tokens' vectors only, flat,
in chunks of 8,192. Both run the planned L2 path (strongest first, each fit warm-started from
the last) with the same `fit_lbfgs`; per strength: seconds, iterations, evaluations, and the
token accuracy and macro F1 over the validation split's labelled tokens.

    ETB_CACHE_DIR=... .venv/bin/python bench/lbfgs_tokens.py [--only new] [--limit 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPEC = f"""etb: 1
name: lbfgs-tokens
data: {{train: {DATA}/wnut17/wnut17train.conll, validation: {DATA}/wnut17/emerging.dev.conll,
  test: {DATA}/wnut17/emerging.test.annotated, format: conll}}
task: {{type: ner}}
backbone: {{model: minilm-l6}}
strategy: {{type: features}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["old", "new"], default=None)
    parser.add_argument("--limit", type=int, default=0, help="first N L2 strengths only")
    parser.add_argument(
        "--evaluations-only", action="store_true", help="time one objective and gradient of each"
    )
    args = parser.parse_args()

    import numpy as np
    import torch
    from sklearn.metrics import f1_score

    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.plan import FeaturesPlan
    from etbuilder.runtime import setup
    from etbuilder.runtime.heads import head_of
    from etbuilder.runtime.strategies.base import planned
    from etbuilder.runtime.strategies.feature_cache import cached_features
    from etbuilder.runtime.strategies.features import (
        HeadOnly,
        _batch,
        _labelled_tokens,
        head_module,
    )
    from etbuilder.runtime.strategies.lbfgs_head import fit_lbfgs
    from etbuilder.spec.loader import load_spec_text

    plan = compile_spec(load_spec_text(SPEC, base_dir=ROOT))
    _, encoded, tokenizer = setup.load_data(plan)
    model, _ = setup.build(plan)
    name, head = head_module(plan, model)
    pad = setup.pad_id(tokenizer)
    feats = {
        s: cached_features(plan, s, model, (name, head), encoded[s], pad_id=pad)
        for s in ("train", "validation")
    }
    grid = planned(plan, FeaturesPlan).l2_grid
    grid = grid[: args.limit] if args.limit else grid
    task_loss = head_of(plan.task).loss

    def loss(m: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return task_loss(m, batch, plan.task, {})

    train = encoded["train"]
    tokens = int(train.sides[0].offsets[-1])
    xv, yv = _labelled_tokens(feats["validation"], encoded["validation"])
    xt, _ = _labelled_tokens(feats["train"], train)
    print(
        json.dumps(
            {
                "sentences": len(train),
                "tokens": tokens,
                "labelled_tokens": len(xt),
                "hidden": int(xt.shape[1]),
                "tags": len(plan.task.labels),
                "l2_grid": list(grid),
                "threads": torch.get_num_threads(),
            }
        ),
        flush=True,
    )

    def old_chunks() -> list[dict[str, torch.Tensor]]:
        return [
            _batch(feats["train"], train, np.arange(i, min(len(train), i + 256)), pad)
            for i in range(0, len(train), 256)
        ]

    def new_chunks() -> list[dict[str, torch.Tensor]]:
        x, y = _labelled_tokens(feats["train"], train)
        return [
            {"input_ids": x[i : i + 8192], "labels": y[i : i + 8192]}
            for i in range(0, len(x), 8192)
        ]

    from etbuilder.runtime.strategies.lbfgs_head import objective

    for kind, make in (("old", old_chunks), ("new", new_chunks)):
        probe = HeadOnly(torch.nn.Linear(head.in_features, head.out_features))
        chunks = make()
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            value = objective(probe, chunks, loss, 1e-3)
            times.append(time.perf_counter() - t0)
            probe.zero_grad(set_to_none=True)
        print(
            json.dumps(
                {
                    "evaluation": kind,
                    "positions": int(
                        sum(
                            c["input_ids"].shape[0]
                            * (c["input_ids"].shape[1] if c["input_ids"].dim() == 3 else 1)
                            for c in chunks
                        )
                    ),
                    "objective_at_start": round(float(value), 6),
                    "seconds_per_evaluation": round(min(times), 4),
                }
            ),
            flush=True,
        )
        del chunks
    if args.evaluations_only:
        return
    results = {}
    for kind, make in (("new", new_chunks), ("old", old_chunks)):
        if args.only and kind != args.only:
            continue
        torch.manual_seed(plan.schedule.seed)
        fresh = torch.nn.Linear(head.in_features, head.out_features)
        model_head = HeadOnly(fresh)
        t0 = time.perf_counter()
        chunks = make()
        build = time.perf_counter() - t0
        total, best = build, None
        for l2 in grid:
            t1 = time.perf_counter()
            fit = fit_lbfgs(model_head, chunks, loss, l2)
            seconds = time.perf_counter() - t1
            total += seconds
            with torch.no_grad():
                pred = fresh(xv).argmax(-1).numpy()
            row = {
                "objective": kind,
                "l2": l2,
                "seconds": round(seconds, 2),
                "iterations": fit["iterations"],
                "evaluations": fit["evaluations"],
                "validation_token_accuracy": round(float((pred == yv.numpy()).mean()), 4),
                "validation_token_f1_macro": round(
                    float(f1_score(yv.numpy(), pred, average="macro")), 4
                ),
            }
            print(json.dumps(row), flush=True)
            if best is None or row["validation_token_f1_macro"] > best["validation_token_f1_macro"]:
                best = row
        results[kind] = {"seconds": round(total, 1), "chunk_build_s": round(build, 2), "best": best}
        print(json.dumps({"total": kind} | results[kind]), flush=True)
    if len(results) == 2:
        print(f"old / new seconds: x{results['old']['seconds'] / results['new']['seconds']:.1f}")


if __name__ == "__main__":
    main()
