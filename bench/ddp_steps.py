"""One process vs 2 DDP vs 2 FSDP processes (torchrun, gloo) on this CPU: step time side by side.

    PYTHONPATH=. .venv/bin/python bench/ddp_steps.py [--rows 512] [--model minilm-l6]

The same spec and global batch (32) in both: one process with all the cores (batch 16,
accumulation 2), and torchrun with 2 processes of one core each (batch 16 each), DDP (a full
copy each) or FSDP (`parallelism: fsdp`, each holds half of every weight). One epoch over
`--rows` sst2_glue sentences, no app. Figures from each run's metrics.json: the training seconds
(step time only, no evaluation) of the main process, per optimizer step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2_glue" / "train.tsv"

SPEC = """etb: 1
name: ddp-bench
data: {{train: train.tsv, quoting: false, split: {{validation: 0.1, test: 0.1}}}}
task: {{type: classification, text: sentence, label: label}}
backbone: {{model: {model}}}
train: {{epochs: 1, batch_size: 16, global_batch: 32, learning_rate: 5.0e-5}}
deploy: {{package: false}}
"""

LAYOUTS = {
    "1 process x 2 threads": ["compute.engine=local", "compute.threads=2"],
    "2 DDP processes x 1 thread": [
        "compute.engine=torchrun",
        "compute.processes_per_node=2",
        "compute.threads=1",
    ],
    "2 FSDP processes x 1 thread": [
        "compute.engine=torchrun",
        "compute.processes_per_node=2",
        "compute.threads=1",
        "compute.parallelism=fsdp",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--model", default="minilm-l6")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="etb-ddp-bench-"))
    lines = DATA.read_text(encoding="utf-8").splitlines()[: args.rows + 1]
    (work / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (work / "spec.yaml").write_text(SPEC.format(model=args.model), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    results = {}
    for number, (name, overrides) in enumerate(LAYOUTS.items()):
        out = work / f"layout-{number}"
        sets = [x for o in overrides for x in ("--set", o)]
        command = [sys.executable, "-m", "etbuilder.cli.main", "run", "spec.yaml", *sets]
        subprocess.run([*command, "--output", str(out), "--quiet"], cwd=work, env=env, check=True)
        metrics = json.loads((out / "metrics.json").read_text())
        results[name] = metrics
        step_ms = 1000 * metrics["train_seconds"] / metrics["steps"]
        print(
            f"{name:28s} {metrics['steps']:3d} steps  {step_ms:7.1f} ms/step  "
            f"{metrics['samples_per_s']:7.1f} samples/s  "
            f"test accuracy {metrics['test']['accuracy']:.4f}"
            + (
                f"  parameters on rank 0: {metrics['fsdp']['parameters_on_rank0']:,} of "
                f"{metrics['fsdp']['parameters']:,}"
                if "fsdp" in metrics
                else ""
            )
        )
    one = results[next(iter(LAYOUTS))]
    for name, metrics in list(results.items())[1:]:
        ratio = one["train_seconds"] / one["steps"] / (metrics["train_seconds"] / metrics["steps"])
        print(f"{name} vs 1 process: {ratio:.2f}x the optimizer steps per second")


if __name__ == "__main__":
    main()
