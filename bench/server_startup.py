"""Where a packaged app's server start goes: imports of each candidate HTTP stack and of the
inference libraries, each in a fresh interpreter, and the app's own start to a first answer.

    python bench/server_startup.py APP [--runs N]

APP is a built app folder (RUN/app). Printed: the median and min over N fresh interpreters of
`import X` for the HTTP stacks one could serve with (FastAPI, Starlette + uvicorn, the
standard library's asyncio that the app uses) and for what the model needs (numpy,
onnxruntime, tokenizers); then the app server's time from process start to its first 200
answer to POST /v1/predict. Benchmarks are not tests: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

IMPORTS = {
    "python -c pass (floor)": "pass",
    "fastapi (+ pydantic, starlette)": "import fastapi, fastapi.responses",
    "starlette + uvicorn": "import starlette.applications, uvicorn, uvicorn.main",
    "asyncio + json + logging (the app's stack)": "import asyncio, json, logging",
    "numpy": "import numpy",
    "onnxruntime": "import onnxruntime",
    "tokenizers": "import tokenizers",
}


def time_import(code: str, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_start(app: Path) -> float:
    port = free_port()
    body = json.dumps({"inputs": ["hello world"]}).encode()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "server.py", "--port", str(port), "--log-level", "warning"],
        cwd=app,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/predict",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.005)
            if proc.poll() is not None or time.perf_counter() - start > 60:
                raise RuntimeError("the app's server did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{'import':45} {'median s':>9} {'min s':>7}")
    for name, code in IMPORTS.items():
        try:
            median, least = time_import(code, args.runs)
        except subprocess.CalledProcessError:
            print(f"{name:45} {'not installed':>17}")
            continue
        print(f"{name:45} {median:9.3f} {least:7.3f}")
    starts = [server_start(args.app.resolve()) for _ in range(args.runs)]
    print(
        f"\napp server, process start to first prediction: median {statistics.median(starts):.3f}"
        f" s, min {min(starts):.3f} s ({args.runs} starts)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
