"""Measured training throughput per machine: read by the compiler, written by the runtime.

The file is `$ETB_CACHE_DIR/throughput.json` (default `~/.cache/etbuilder/throughput.json`):

    {"version": 1, "records": [
        {"device_name": "AMD EPYC 7B13", "device": "cpu", "precision": "fp32",
         "flops_per_second": 5.2e10, "processes": 1}
    ]}

`flops_per_second` counts the model FLOPs the estimate formula counts (6 x params x tokens
for trained layers...), divided by the wall time of the training steps of one process.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etbuilder.atomic import atomic_write
from etbuilder.plan import Plan
from etbuilder.zoo.architecture import forward_flops_per_token

DEFAULT_FLOPS = {"cpu": 60e9, "cuda": 20e12}
"""Effective training FLOP/s of one process when nothing was recorded on this machine."""
MAX_RECORDS = 200
"""Oldest records are dropped beyond this."""


def throughput_file() -> Path:
    """Where recorded throughputs live."""
    base = os.environ.get("ETB_CACHE_DIR") or str(Path.home() / ".cache" / "etbuilder")
    return Path(base) / "throughput.json"


@dataclass(frozen=True)
class Throughput:
    flops_per_second: float
    basis: str
    """Where the figure comes from, for `Estimates.time_basis`."""


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        return []
    return [
        r
        for r in records
        if isinstance(r, dict)
        and isinstance(r.get("flops_per_second"), int | float)
        and r["flops_per_second"] > 0
    ]


def _similar_size(record: dict[str, Any], parameters: int | None) -> bool:
    """Small models leave matmuls small and reach a fraction of a big one's FLOP/s: compare a
    run only with runs of models within a factor of 2 in size."""
    if parameters is None:
        return True
    recorded = record.get("parameters")
    return isinstance(recorded, int) and parameters / 2 <= recorded <= parameters * 2


def lookup(
    device: str,
    device_name: str,
    precision: str,
    path: Path | None = None,
    parameters: int | None = None,
) -> Throughput:
    """Median recorded throughput of one process on this device for a model of about this many
    parameters (same precision when any), else the stated default."""
    path = path or throughput_file()
    records = [
        r
        for r in _records(path)
        if r.get("device_name") == device_name and _similar_size(r, parameters)
    ]
    same = [r for r in records if r.get("precision") == precision]
    chosen = same or records
    if chosen:
        value = statistics.median(float(r["flops_per_second"]) for r in chosen)
        what = f"{precision} " if same else ""
        return Throughput(
            value,
            f"measured: median of {len(chosen)} recorded {what}run(s) on {device_name} "
            f"({value / 1e9:,.1f} GFLOP/s per process, from {path})",
        )
    value = DEFAULT_FLOPS[device]
    return Throughput(
        value,
        f"default: {value / 1e9:,.0f} GFLOP/s per process on {device} (no run recorded on "
        f"{device_name} yet; `etb run` records one in {path})",
    )


def record(
    device: str,
    device_name: str,
    precision: str,
    flops_per_second: float,
    processes: int = 1,
    path: Path | None = None,
    parameters: int | None = None,
) -> None:
    """Append one measurement (atomically: a temporary file renamed over the old one)."""
    path = path or throughput_file()
    records = _records(path)
    records.append(
        {
            "device": device,
            "device_name": device_name,
            "precision": precision,
            "flops_per_second": float(flops_per_second),
            "processes": processes,
            "parameters": parameters,
        }
    )
    text = json.dumps({"version": 1, "records": records[-MAX_RECORDS:]}, indent=2) + "\n"
    atomic_write(path, text, fsync=False)


def training_flops_per_second(plan: Plan, tokens: int, seconds: float) -> float:
    """Training FLOP/s as the estimate counts them (3 x forward, per real token)."""
    per_token = forward_flops_per_token(plan.backbone, plan.task.max_length)
    return 3 * per_token * plan.backbone.layers * tokens / max(seconds, 1e-9)


def record_run(plan: Plan, tokens: int, seconds: float, path: Path | None = None) -> None:
    """Record what a finished run of `plan` achieved (`tokens` trained per process in
    `seconds`), so that the next `etb plan` on this machine estimates time from it."""
    record(
        plan.hardware.device,
        plan.hardware.device_name,
        plan.precision.used,
        training_flops_per_second(plan, tokens, seconds),
        processes=plan.compute.world_size,
        path=path,
        parameters=plan.backbone.parameters,
    )
