"""Cost of refusing hostile specs: `etb validate` on alias bombs, a deep nest and an oversized
file, next to the gallery's valid spec, each in a fresh process (wall time, and the peak
resident memory the process reports itself), with the ratios to the valid spec. Run:

    .venv/bin/python bench/hostile_specs.py [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


CHILD = (
    "import sys\n"
    "from etbuilder.cli.main import main\n"
    "code = main(['validate', sys.argv[1]])\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
    "print(hwm, file=sys.stderr)\n"
    "sys.exit(code)\n"
)
"""`etb validate` in a fresh interpreter that prints its own peak resident memory (KiB) last:
VmHWM, which starts afresh at exec (ru_maxrss would count the forked parent's pages)."""


def measure(path: Path, runs: int) -> tuple[float, float, int]:
    """(median seconds, peak MiB, exit code) of `etb validate path` in a fresh process."""
    times, peaks, code = [], [], 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=os.environ
        )
        times.append(time.perf_counter() - started)
        peaks.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
        code = done.returncode
    return statistics.median(times), max(peaks), code


def in_process(path: Path, runs: int) -> float:
    """Median seconds of `load_spec(path)` in this process (no interpreter start-up)."""
    from etbuilder.errors import EtbError
    from etbuilder.spec.loader import load_spec

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with contextlib.suppress(EtbError):
            load_spec(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="etb-hostile-") as folder:
        cases: dict[str, Callable[[], str] | Path] = {
            "valid spec (templates/sms-spam)": VALID,
            "billion laughs, 9 levels (509 B)": lambda: laughs(9),
            "alias bomb, 40 levels x 3 (1.4 KB)": lambda: laughs(40, width=3),
            "50 MB of unknown keys": lambda: "name: x\n" + "k: v\n" * 10_000_000,
        }
        results = []
        for name, make in cases.items():
            path = make if isinstance(make, Path) else Path(folder) / "hostile.yaml"
            if not isinstance(make, Path):
                path.write_text(make(), encoding="utf-8")
            seconds, peak, code = measure(path, args.runs)
            results.append((name, seconds, peak, code, in_process(path, args.runs)))
    base = results[0][1]
    base_peak, base_load = results[0][2], results[0][4]
    print(
        f"{'spec':<36} {'exit':>4} {'etb s':>7} {'x valid':>8} {'peak MiB':>9} {'x valid':>8}"
        f" {'load_spec ms':>13} {'x valid':>8}"
    )
    for name, seconds, peak, code, load in results:
        print(
            f"{name:<36} {code:>4} {seconds:7.2f} {seconds / base:8.2f} {peak:9.0f} "
            f"{peak / base_peak:8.2f} {load * 1000:13.1f} {load / base_load:8.2f}"
        )


if __name__ == "__main__":
    main()
