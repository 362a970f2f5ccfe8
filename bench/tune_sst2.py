"""The default spec vs `etb tune` with a 10-minute budget, side by side, on a sst2_glue slice.

    PYTHONPATH=. .venv/bin/python bench/tune_sst2.py --out /tmp/bench-tune

The slice: 4,000 seeded rows of sst2_glue train.tsv to train on, 500 of dev.tsv to select on,
and test.tsv (872, GLUE dev) to test on. The spec is what `etb init --data train.tsv --budget
10m` writes, with the three files; "default" is that spec without `tune:` (finetune, 3 epochs),
run with `etb run`; "tune" is `etb tune` on it. Both start from an empty feature cache (a fresh
ETB_CACHE_DIR; the default run records this machine's throughput for the tuner's estimates).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2_glue"


def _slice(source: Path, target: Path, rows: int, seed: int) -> None:
    lines = source.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    random.Random(seed).shuffle(body)
    target.write_text("\n".join([header, *body[:rows]]) + "\n", encoding="utf-8")


def _etb(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "etbuilder.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"etb {' '.join(args)} failed ({done.returncode})")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-tune"))
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--budget", default="10m")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    data.mkdir(exist_ok=True)
    _slice(DATA / "train.tsv", data / "train.tsv", args.rows, 13)
    _slice(DATA / "dev.tsv", data / "dev.tsv", 500, 13)
    (data / "test.tsv").write_text((DATA / "test.tsv").read_text(encoding="utf-8"))
    env = dict(os.environ, ETB_CACHE_DIR=str(out / "cache"), PYTHONPATH=str(ROOT))
    init = out / "init"
    _etb(
        ["init", "--data", str(data / "train.tsv"), "--budget", args.budget, "--force", str(init)],
        env,
    )
    spec = yaml.safe_load((init / "spec.yaml").read_text(encoding="utf-8"))
    spec["data"]["train"] = str(data / "train.tsv")
    spec["data"]["validation"] = str(data / "dev.tsv")
    spec["data"]["test"] = str(data / "test.tsv")
    spec["data"].pop("split", None)
    spec["name"] = "sst2-slice"
    tune_spec = out / "tune.yaml"
    tune_spec.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    default = dict(spec)
    default.pop("tune")
    default_spec = out / "default.yaml"
    default_spec.write_text(yaml.safe_dump(default, sort_keys=False), encoding="utf-8")

    default_s, _ = _etb(["run", str(default_spec), "--output", str(out / "default"), "-q"], env)
    metrics = json.loads((out / "default" / "metrics.json").read_text(encoding="utf-8"))
    tune_s, printed = _etb(["tune", str(tune_spec), "--output", str(out / "study"), "-q"], env)
    study = json.loads((out / "study" / "study.json").read_text(encoding="utf-8"))
    summary = study["summary"]
    metric = "accuracy"
    result: dict[str, Any] = {
        "cpu": _cpu(),
        "rows": args.rows,
        "budget": args.budget,
        "default": {
            "validation": metrics["validation"][metric],
            "test": metrics["test"][metric],
            "wall_s": round(default_s, 1),
        },
        "tune": {
            "validation": summary["best_value"],
            "test": summary["best_test"].get(metric),
            "wall_s": round(tune_s, 1),
            "study_wall_s": study["wall_s"],
            "trials": summary["trials"],
            "complete": summary["complete"],
            "pruned": summary["pruned"],
            "skipped": summary["skipped"],
            "failed": summary["failed"],
            "best_params": summary["best_params"],
            "feature_cache_hits": summary["feature_hits"],
            "feature_seconds_written": summary["feature_seconds_written"],
            "feature_seconds_saved": summary["feature_seconds_saved"],
            "app": (out / "study" / "app" / "manifest.json").is_file(),
        },
    }
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    d, t = result["default"], result["tune"]
    print(json.dumps(result, indent=2))
    print(
        f"validation {metric}: default {d['validation']:.4f}, tune {t['validation']:.4f} "
        f"({t['validation'] / d['validation']:.3f}x); test: default {d['test']:.4f}, "
        f"tune {t['test']:.4f} ({t['test'] / d['test']:.3f}x)"
    )
    print(
        f"wall: default {d['wall_s']:.0f} s, tune {t['wall_s']:.0f} s "
        f"({t['wall_s'] / d['wall_s']:.2f}x); {t['trials']} trials, {t['pruned']} pruned"
    )
    print(printed)


def _cpu() -> str:
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
