"""Start-up time of the `etb` CLI: median wall time of `etb --help` and `etb validate SPEC`.

Each command runs in a fresh interpreter (as a user runs it), a few times, and the median is
printed with the spread, next to a bare `python -c pass` as the floor every command pays. Run:

    .venv/bin/python bench/startup.py [--runs 10] [--spec PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = ROOT / "tests" / "specs" / "valid" / "classification-lora.yaml"


def etb_command() -> list[str]:
    """The installed `etb` console script next to this interpreter, else `python -m`."""
    script = Path(sys.executable).parent / "etb"
    if script.exists():
        return [str(script)]
    found = shutil.which("etb")
    return [found] if found else [sys.executable, "-m", "etbuilder.cli.main"]


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timings(command: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `runs` runs of `command` (after one untimed warm-up run).

    CPU time (user + system of the child) hardly moves when other processes share the cores;
    wall time is what the user waits.
    """
    subprocess.run(command, capture_output=True, check=False, cwd=ROOT)
    walls, cpus = [], []
    for _ in range(runs):
        cpu, start = _child_cpu(), time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False, cwd=ROOT)
        walls.append(time.perf_counter() - start)
        cpus.append(_child_cpu() - cpu)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode()}")
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    args = parser.parse_args()
    etb = etb_command()
    cases = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ("etb --help", [*etb, "--help"]),
        (f"etb validate {args.spec.name}", [*etb, "validate", str(args.spec)]),
    ]
    print(f"{platform.python_implementation()} {platform.python_version()}, {args.runs} runs each")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'command':<42} {'wall median':>12} {'wall min':>9} {'wall max':>9} {'cpu median':>11}")
    for label, command in cases:
        walls, cpus = timings(command, args.runs)
        print(
            f"{label:<42} {statistics.median(walls):>11.3f}s {min(walls):>8.3f}s "
            f"{max(walls):>8.3f}s {statistics.median(cpus):>10.3f}s"
        )


if __name__ == "__main__":
    main()
