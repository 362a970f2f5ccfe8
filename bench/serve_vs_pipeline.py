"""The packaged app (ONNX, batched; over HTTP and in process) against transformers.pipeline.

    python bench/serve_vs_pipeline.py RUN [--data TSV] [--limit N]

RUN is a finished run folder of a text-classification model (its `model/` is the fine-tuned
Hugging Face model the pipeline loads; its `app/` is built when missing). Both sides predict the
same sentences (default: the 872 SST-2 test sentences), at batch 1 and batch 32; printed:
throughput (sentences/s), p50/p95 latency per call, accuracy, cold start (process start to
first prediction) and the app/pipeline ratios. Benchmarks are not tests: nothing is asserted.
`--rebuild` packages RUN/app again first (an app built by an older etbuilder is otherwise
measured as it is). Contenders are measured in interleaved rounds (`--repeat`, default 3: every
contender once per round, the best round counts), so a load that drifts on a shared machine
weighs on all of them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sst2_glue"


@dataclass
class Result:
    name: str
    batch: int
    throughput: float
    p50_ms: float
    p95_ms: float
    accuracy: float | None


def read_tsv(path: Path, limit: int | None) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = rows[0], rows[1:]
    text, label = header.index("sentence"), header.index("label")
    body = body[:limit] if limit else body
    return [r[text] for r in body], [r[label].strip() for r in body]


REPEAT = 3
"""Each measurement runs this many times and the fastest pass counts (`--repeat`): on a shared
machine, other processes only ever slow a pass down."""


def best(measure: Callable[[], Result]) -> Result:
    """The fastest of `REPEAT` passes of `measure`."""
    return max((measure() for _ in range(REPEAT)), key=lambda r: r.throughput)


def timed(
    name: str, batch: int, texts: list[str], gold: list[str], call: Callable[[list[str]], list[str]]
) -> Result:
    """Call `call` on consecutive chunks of `batch` texts; latency per call; best pass."""
    call(texts[:batch])  # warm-up

    def one_pass() -> Result:
        latencies, labels = [], []
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            t = time.perf_counter()
            labels += call(texts[i : i + batch])
            latencies.append(time.perf_counter() - t)
        total = time.perf_counter() - start
        return _result(name, batch, len(texts) / total, latencies, labels, gold)

    return best(one_pass)


def _result(name, batch, throughput, latencies, labels, gold) -> Result:
    ms = np.array(latencies) * 1000
    acc = float(np.mean([a == b for a, b in zip(labels, gold, strict=True)])) if labels else None
    return Result(
        name, batch, throughput, float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), acc
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cold_start(argv: Sequence[str], cwd: Path | None = None) -> float:
    """Seconds from process start until it prints `READY` (after its first prediction);
    the fastest of `REPEAT` starts."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
        assert "READY" in out.stdout, out.stdout + out.stderr
        times.append(time.perf_counter() - start)
    return min(times)


PIPELINE_COLD = (
    "import sys\nfrom transformers import pipeline\n"
    "p = pipeline('text-classification', model=sys.argv[1], device='cpu')\n"
    "p(['hello world']); print('READY')\n"
)
APP_COLD = (
    "from inference import Predictor\nPredictor('.').predict(['hello world']); print('READY')\n"
)


def start_server(app: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start `python server.py`; returns it, its URL and the cold start to a first answer."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=5)  # the client's own imports stay outside the timing
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "server.py", "--port", str(port), "--log-level", "warning"],
        cwd=app,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with client:
        while True:
            try:
                r = client.post(f"{url}/v1/predict", json={"inputs": ["hello world"]})
                if r.status_code == 200:
                    return proc, url, time.perf_counter() - start
            except httpx.TransportError:
                time.sleep(0.01)
            if proc.poll() is not None or time.perf_counter() - start > 60:
                raise RuntimeError("the app's server did not start")


class KeepAliveClient:
    """One kept-alive HTTP/1.1 connection from the standard library, TCP_NODELAY set: a client
    that costs little CPU (httpx spends about as much per request as the server on this CPU,
    and both share its cores), the way a load generator or a service's pooled client calls."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.connection = self._connect()

    def _connect(self) -> Any:
        import http.client

        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def post(self, path: str, payload: object) -> dict:
        import http.client

        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        try:
            self.connection.request("POST", path, body, headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # the server closed the idle kept-alive connection: reconnect once, as pooled
            # clients (httpx, requests) do
            self.connection.close()
            self.connection = self._connect()
            self.connection.request("POST", path, body, headers)
            response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {data[:200]!r}")
        return json.loads(data)

    def close(self) -> None:
        self.connection.close()


def http_concurrent(url: str, texts: list[str], gold: list[str], clients: int) -> Result:
    """`clients` concurrent clients, one sentence per request: the server micro-batches."""
    import httpx

    latencies: list[float] = []
    labels: list[str] = [""] * len(texts)

    async def worker(k: int, http: httpx.AsyncClient) -> None:
        for i in range(k, len(texts), clients):
            t = time.perf_counter()
            r = await http.post("/v1/predict", json={"inputs": [texts[i]]})
            latencies.append(time.perf_counter() - t)
            labels[i] = r.json()["predictions"][0]["label"]

    async def main() -> tuple[float, float]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await http.post("/v1/predict", json={"inputs": texts[:clients]})
            before = (await http.get("/v1/health")).json()
            start = time.perf_counter()
            await asyncio.gather(*(worker(k, http) for k in range(clients)))
            seconds = time.perf_counter() - start
            after = (await http.get("/v1/health")).json()
        batches = max(after.get("batches", 0) - before.get("batches", 0), 1)
        return seconds, (after.get("inputs", 0) - before.get("inputs", 0)) / batches

    total, mean_batch = asyncio.run(main())
    print(
        f"{clients} concurrent clients: the server ran micro-batches of {mean_batch:.1f} on average"
    )
    return _result(f"app HTTP, {clients} clients", 1, len(texts) / total, latencies, labels, gold)


def main(argv: Sequence[str] | None = None) -> int:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run folder (classification)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "test.tsv")
    parser.add_argument("--limit", type=int, default=None, help="use the first N sentences")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild RUN/app with this etbuilder first"
    )
    args = parser.parse_args(argv)
    REPEAT = 1  # each round measures every contender once; rounds are interleaved below
    rounds = max(1, args.repeat)
    texts, gold = read_tsv(args.data.resolve(), args.limit)
    app = args.run / "app"
    if args.rebuild or not (app / "manifest.json").is_file():
        from etbuilder.package import build_app

        build_app(args.run)
    app = app.resolve()
    manifest = json.loads((app / "manifest.json").read_text())
    print(
        f"{len(texts)} sentences of {args.data}; app serves {manifest['model']['served']}; "
        f"{os.cpu_count()} CPUs; {rounds} interleaved rounds, the best of each counts"
    )

    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(args.run / "model"), device="cpu")
    sys.path.insert(0, str(app))
    from inference import Predictor  # the app's own inference core

    predictor = Predictor(app)
    import httpx

    proc, url, _ = start_server(app)
    http = httpx.Client(base_url=url, timeout=60)
    light = KeepAliveClient(url)

    def post(batch: list[str]) -> list[str]:
        return [p["label"] for p in light.post("/v1/predict", {"inputs": batch})["predictions"]]

    def post_httpx(batch: list[str]) -> list[str]:
        r = http.post("/v1/predict", json={"inputs": batch})
        return [p["label"] for p in r.json()["predictions"]]

    # A request carries at most the app's max_batch_size inputs.
    http_batch = min(32, int(manifest["inputs"]["max_batch_size"]))
    contenders: list[tuple[str, int, Callable[[list[str]], list[str]]]] = []
    for batch in (1, 32):
        contenders.append(
            (
                "pipeline",
                batch,
                lambda b, n=batch: [r["label"] for r in pipe(b, batch_size=n)],
            )
        )
        contenders.append(
            ("app in-process", batch, lambda b: [p["label"] for p in predictor.predict(b)])
        )
        contenders.append(("app HTTP", 1 if batch == 1 else http_batch, post))
        if batch == 1:
            contenders.append(("app HTTP, httpx client", 1, post_httpx))
    cold: dict[str, list[float]] = {"pipeline": [], "app in-process": [], "app HTTP server": []}
    best_of: dict[tuple[str, int], Result] = {}
    try:
        for _ in range(rounds):
            cold["pipeline"].append(
                cold_start([sys.executable, "-c", PIPELINE_COLD, str(args.run / "model")])
            )
            cold["app in-process"].append(cold_start([sys.executable, "-c", APP_COLD], cwd=app))
            other, _, seconds = start_server(app)
            cold["app HTTP server"].append(seconds)
            other.terminate()
            other.wait(timeout=10)
            for name, batch, call in contenders:
                r = timed(name, batch, texts, gold, call)
                key = (name, batch)
                if key not in best_of or r.throughput > best_of[key].throughput:
                    best_of[key] = r
            r = http_concurrent(url, texts, gold, 16)
            key = (r.name, 1)
            if key not in best_of or r.throughput > best_of[key].throughput:
                best_of[key] = r
    finally:
        http.close()
        light.close()
        proc.terminate()
        proc.wait(timeout=10)
    order = ["pipeline", "app in-process", "app HTTP", "app HTTP, httpx client"]
    order.append("app HTTP, 16 clients")
    results = sorted(best_of.values(), key=lambda r: (order.index(r.name), r.batch))
    cold_best = {name: min(times) for name, times in cold.items()}
    print(f"\n{'':28} {'batch':>5} {'sent/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'accuracy':>9}")
    for r in results:
        acc = f"{r.accuracy:.4f}" if r.accuracy is not None else "-"
        print(
            f"{r.name:28} {r.batch:>5} {r.throughput:>8.1f} {r.p50_ms:>8.2f} {r.p95_ms:>8.2f}"
            f" {acc:>9}"
        )
    print("\ncold start (process start to first prediction), best and median of the rounds:")
    for name, times in cold.items():
        print(f"  {name:28} {min(times):6.2f} s {statistics.median(times):6.2f} s")
    base = {r.batch: r for r in results if r.name == "pipeline"}
    print("\nratios (app / pipeline):")
    for r in results:
        if r.name != "pipeline":
            ref = base[1 if r.batch == 1 else 32]
            speed, latency = r.throughput / ref.throughput, r.p50_ms / ref.p50_ms
            print(f"  {r.name:26} batch {r.batch:>2}: throughput x{speed:.2f}, p50 x{latency:.2f}")
    pipe_cold = cold_best["pipeline"]
    print(
        f"  cold start: pipeline / app server x{pipe_cold / cold_best['app HTTP server']:.1f},"
        f" pipeline / app in-process x{pipe_cold / cold_best['app in-process']:.1f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"results": [r.__dict__ for r in results], "cold_start_s": cold}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
