"""Peak memory of `etb predict` on a packaged app as the input grows: it streams, so the peak
stays flat from thousands to a million rows.

Each size runs `etb predict APP -i rows.csv -o out.csv` in a fresh process and reads that
process's peak resident memory (ru_maxrss of the child); inputs are SMS texts of the shared
SMS Spam Collection, repeated. Prints peak MiB, rows/s and the peak relative to the smallest
input. Run:

    .venv/bin/python bench/predict_memory.py APP_FOLDER [--rows 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
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


def run_one(app: Path, source: Path, output: Path) -> tuple[float, float]:
    """(peak resident MiB of the child, seconds)."""
    command = [str(Path(sys.executable).parent / "etb"), "predict", str(app)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(
        [*command, "-i", str(source), "-o", str(output), "--overwrite"],
        check=True,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak < before:  # pragma: no cover - ru_maxrss is a running maximum over children
        raise RuntimeError("peak went down")
    return peak / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", type=Path)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    print(f"CPU: {cpu_name()} ({len(os.sched_getaffinity(0))} cores available)")
    print(f"app: {args.app}")
    results = []
    with tempfile.TemporaryDirectory(prefix="etb-predict-mem-") as folder:
        for rows in sorted(args.rows):  # ascending: ru_maxrss of children only grows
            source = Path(folder) / f"rows-{rows}.csv"
            write_rows(source, rows)
            peak, seconds = run_one(args.app, source, Path(folder) / "out.csv")
            size = source.stat().st_size / 2**20
            results.append((rows, size, peak, seconds))
            source.unlink()
            print(f"{rows:>9,} rows ({size:7.1f} MiB in): peak {peak:6.0f} MiB (running max), "
                  f"{rows / seconds:7.0f} rows/s", flush=True)
    base = results[0][2]
    print("\nrows        input MiB  peak RSS MiB  peak vs smallest  rows/s")
    for rows, size, peak, seconds in results:
        print(f"{rows:<11,} {size:9.1f}  {peak:12.0f}  {peak / base:16.2f}x  {rows / seconds:6.0f}")


if __name__ == "__main__":
    main()
