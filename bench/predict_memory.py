"""Peak memory of `etb predict` on a packaged app as the input grows: it streams, so the peak
stays flat from thousands to a million rows.

Each size runs `etb predict APP -i rows.csv -o out.csv` in a fresh process and reads its peak
resident memory (VmHWM, polled, and ru_maxrss of the children); inputs are SMS texts of the
shared SMS Spam Collection, repeated. Prints peak MiB, rows/s and the peak relative to the
smallest input; while a size runs, a line every --every seconds gives the peak so far. Run:

    .venv/bin/python bench/predict_memory.py APP_FOLDER [--rows 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMS = Path("/work/shared/data/sms_spam/SMSSpamCollection")


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def write_rows(path: Path, count: int) -> None:
    texts = [line.split("\t", 1)[1] for line in SMS.read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["id", "text"])
        for i in range(count):
            writer.writerow([i, texts[i % len(texts)]])


def _peak_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_one(app: Path, source: Path, output: Path, every: float) -> tuple[float, float]:
    """(peak resident MiB of the child, seconds); prints the peak so far every `every` s."""
    command = [str(Path(sys.executable).parent / "etb"), "predict", str(app)]
    started = time.perf_counter()
    child = subprocess.Popen(
        [*command, "-i", str(source), "-o", str(output), "--overwrite"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
    )
    peak, last = 0.0, started
    while child.poll() is None:
        with contextlib.suppress(OSError, ValueError):
            peak = max(peak, _peak_mib(child.pid))
        if time.perf_counter() - last >= every:
            last = time.perf_counter()
            written = sum(p.stat().st_size for p in output.parent.glob(f".{output.name}.partial-*"))
            print(
                f"    {last - started:6.0f}s: peak so far {peak:.0f} MiB, "
                f"{written / 2**20:.1f} MiB written",
                flush=True,
            )
        time.sleep(0.5)
    if child.returncode != 0:
        raise SystemExit(f"etb predict failed with exit status {child.returncode}")
    seconds = time.perf_counter() - started
    peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return peak, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", type=Path)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--every", type=float, default=60.0, help="progress line every N s")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({len(os.sched_getaffinity(0))} cores available)")
    print(f"app: {args.app}")
    results = []
    with tempfile.TemporaryDirectory(prefix="etb-predict-mem-") as folder:
        for rows in sorted(args.rows):  # ascending: ru_maxrss of children only grows
            source = Path(folder) / f"rows-{rows}.csv"
            write_rows(source, rows)
            peak, seconds = run_one(args.app, source, Path(folder) / "out.csv", args.every)
            size = source.stat().st_size / 2**20
            results.append((rows, size, peak, seconds))
            source.unlink()
            print(
                f"{rows:>9,} rows ({size:7.1f} MiB in): peak {peak:6.0f} MiB, "
                f"{rows / seconds:7.0f} rows/s",
                flush=True,
            )
    base = results[0][2]
    print("\nrows        input MiB  peak RSS MiB  peak vs smallest  rows/s")
    for rows, size, peak, seconds in results:
        print(f"{rows:<11,} {size:9.1f}  {peak:12.0f}  {peak / base:16.2f}x  {rows / seconds:6.0f}")


if __name__ == "__main__":
    main()
