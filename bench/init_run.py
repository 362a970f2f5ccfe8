"""`etb init --data FILE DIR && etb run DIR/spec.yaml` on each shared dataset, and on files whose
columns etbuilder has never seen (renamed columns as JSON Lines and as Parquet), one after another.

    PYTHONPATH=. .venv/bin/python bench/init_run.py --out /tmp/bench-init   # etb init's default
    PYTHONPATH=. .venv/bin/python bench/init_run.py --out /tmp/bench-init --budget 3m \\
        --budget-for sst2_glue=10m

Prints one row per data file: the task etb init inferred, the budget, the trials (complete,
pruned, did not fit, failed), the best strategy, the validation and test metric, the wall time
of `etb run` (study + testing + packaging) and the load average before and after; writes the
same as JSON to OUT/results.json. Every command's output is kept in OUT/<name>/*.log.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

FILES = {
    "sms_spam": "sms_spam/SMSSpamCollection",
    "mrpc": "mrpc/msr_paraphrase_train.txt",
    "stsb": "stsb/stsb-en-train.csv",
    "wnut17": "wnut17/wnut17train.conll",
    "banking77": "banking77/train.csv",
    "ag_news": "ag_news/dev.tsv",
    "sst2_glue": "sst2_glue/train.tsv",
}
"""Name -> the file `etb init --data` reads (relative to the shared data folder)."""


def unseen_files(out: Path) -> dict[str, Path]:
    """Files with column names no dataset uses: 2,000 seeded banking77 rows as JSON Lines
    ({utterance, intent}) and 2,000 sst2 rows as Parquet ({review, polarity})."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = out / "unseen"
    folder.mkdir(parents=True, exist_ok=True)
    with (DATA / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(7).shuffle(rows)
    jsonl = folder / "requests.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"utterance": r["text"], "intent": r["category"]}) + "\n"
            for r in rows[:2000]
        ),
        encoding="utf-8",
    )
    lines = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    random.Random(7).shuffle(lines)
    pairs = [line.rsplit("\t", 1) for line in lines[:2000]]
    table = pa.table({"review": [p[0] for p in pairs], "polarity": [int(p[1]) for p in pairs]})
    parquet = folder / "reviews.parquet"
    pq.write_table(table, parquet)
    return {"unseen_jsonl": jsonl, "unseen_parquet": parquet}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])


def etb(args: list[str], log: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as handle:
        done = subprocess.run(
            [sys.executable, "-m", "etbuilder.cli.main", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return done.returncode, time.perf_counter() - started


STATES = ("trials", "complete", "pruned", "skipped", "failed")


def outcome(study: Path) -> dict[str, Any]:
    """What the study folder says: trials by state, the best trial and its metrics."""
    record = json.loads((study / "study.json").read_text(encoding="utf-8"))
    summary = record.get("summary") or {}
    with (study / "trials.csv").open(encoding="utf-8", newline="") as handle:
        trials = list(csv.DictReader(handle))
    best = next((t for t in trials if t["number"] == str(summary.get("best_number"))), {})
    return {
        "trials": {k: summary.get(k) for k in STATES},
        "best_trial": summary.get("best_number"),
        "best_strategy": best.get("strategy.type"),
        "validation": summary.get("best_value"),
        "test": summary.get("best_test"),
        "app": (study / "app").is_dir(),
        "rows": [
            {k: t.get(k) for k in ("number", "state", "strategy.type", "seconds", "reason")}
            for t in trials
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-init"))
    parser.add_argument(
        "--budget", default="default", help="a duration, or `default`: no --budget flag (10m)"
    )
    parser.add_argument("--budget-for", action="append", default=[], metavar="NAME=DURATION")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="these, in this order"
    )
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    budgets = dict(item.split("=", 1) for item in args.budget_for)
    files = {name: DATA / path for name, path in FILES.items()}
    files = {**dict(list(files.items())[:-1]), **unseen_files(out), "sst2_glue": files["sst2_glue"]}
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    order = args.only or list(files)
    for name in order:
        data = files[name]
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        budget = budgets.get(name, args.budget)
        result: dict[str, Any] = {"file": str(data), "budget": budget}
        result["load_before"] = load_average()
        init = ["init", "--data", str(data), "--force", str(folder / "project")]
        if budget != "default":  # `default`: the command exactly as a user types it
            init[3:3] = ["--budget", budget]
        code, seconds = etb(init, folder / "init.log")
        result["init"] = {"exit": code, "seconds": round(seconds, 1)}
        result["init_output"] = (folder / "init.log").read_text(encoding="utf-8").splitlines()
        if code == 0:
            study = folder / "study"
            shutil.rmtree(study, ignore_errors=True)  # this script's own, from a stopped run
            spec = str(folder / "project" / "spec.yaml")
            code, seconds = etb(["run", spec, "--output", str(study)], folder / "run.log")
            result["run"] = {"exit": code, "wall_s": round(seconds, 1)}
            if code == 0:
                result |= outcome(study)
            else:
                result["error"] = (folder / "run.log").read_text(encoding="utf-8")[-2000:]
        result["load_after"] = load_average()
        results[name] = result
        results_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        run = result.get("run") or {}
        print(
            f"{name}: budget {budget}, init exit {result['init']['exit']}, run exit "
            f"{run.get('exit')}, {run.get('wall_s')} s, best {result.get('best_strategy')} "
            f"val {result.get('validation')}, trials {result.get('trials')}, load "
            f"{result['load_before']} -> {result['load_after']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
