"""Cost of refusing hostile specs: `etb validate` on alias bombs, a deep nest and an oversized
file, next to the gallery's valid spec, each in a fresh process (wall time and peak resident
memory of the child), with the ratio to the valid spec. Run:

    .venv/bin/python bench/hostile_specs.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VALID = ROOT / "templates" / "sms-spam" / "spec.yaml"


def laughs(levels: int, width: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\nname: *a{levels}\n"


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def measure(path: Path, runs: int) -> tuple[float, float, int]:
    """(median seconds, peak MiB of the children, exit code) of `etb validate path`."""
    etb = Path(sys.executable).parent / "etb"
    times, code = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [str(etb), "validate", str(path)], capture_output=True, env=os.environ
        )
        times.append(time.perf_counter() - started)
        code = done.returncode
    # ru_maxrss of children is a running maximum: measure in ascending order of cost
    return (
        statistics.median(times),
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        code,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="etb-hostile-") as folder:
        cases = {
            "valid spec (templates/sms-spam)": VALID,
            "billion laughs, 9 levels (509 B)": laughs(9),
            "alias bomb, 40 levels x 3 (1.4 KB)": laughs(40, width=3),
            "50 MB of unknown keys": "name: x\n" + "k: v\n" * 10_000_000,
        }
        results = []
        for name, text in cases.items():
            if isinstance(text, Path):
                path = text
            else:
                path = Path(folder) / "hostile.yaml"
                path.write_text(text, encoding="utf-8")
            seconds, peak, code = measure(path, args.runs)
            results.append((name, seconds, peak, code))
    base = results[0][1]
    print(f"{'spec':<38} {'exit':>4} {'median s':>9} {'x valid':>8} {'peak MiB (running max)':>23}")
    for name, seconds, peak, code in results:
        print(f"{name:<38} {code:>4} {seconds:9.3f} {seconds / base:8.2f} {peak:23.0f}")


if __name__ == "__main__":
    main()
