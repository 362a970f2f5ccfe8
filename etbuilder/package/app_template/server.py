"""HTTP server of a packaged etbuilder app. Start it inside the app folder:

    python server.py --host 0.0.0.0 --port 8000 [--workers N]

POST /v1/predict {"inputs": [...]} -> {"predictions": [...]}; GET /v1/health, /v1/info,
/v1/metadata, /metrics (Prometheus), /openapi.json and /docs (a self-contained page, no
external assets). Every error is JSON: {"error": {"code": ..., "message": ...}}.
Concurrent requests are micro-batched: a queue collects them for up to `batch_wait_ms` and
one worker thread runs them through onnxruntime in length-sorted batches. SIGTERM/SIGINT stop
accepting connections, answer every request already read, then exit.

Environment: ETB_MODEL_FILE serves another model file (e.g. onnx/model.onnx); ETB_THREADS
sets the onnxruntime threads per process (default: every core, divided among --workers);
ETB_HEADER_TIMEOUT_S (10), ETB_BODY_TIMEOUT_S (30), ETB_KEEPALIVE_S (5) and
ETB_SHUTDOWN_GRACE_S (30) bound slow clients and shutdown; ETB_LOG_TEXTS=1 adds the request
inputs to the access log (off by default: they may be personal data).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

APP_DIR = Path(os.environ.get("ETB_APP_DIR") or Path(__file__).resolve().parent)
STARTED = time.time()


def _load_model(box: dict[str, Any], threads: int | None) -> None:
    """Import the inference core, open the model and answer once (warm-up), in a thread.

    It runs while the main thread imports the rest and binds the socket: onnxruntime loads the
    model and runs it with the GIL released, so the cold start overlaps the two.
    """
    try:
        from inference import Predictor

        loaded = Predictor(
            APP_DIR,
            model_file=os.environ.get("ETB_MODEL_FILE") or None,
            threads=threads,
            spin=False,
        )
        warm = [["warm up", "warm up"]] if loaded.pair else ["warm up"]
        loaded.predict(loaded.check(warm, 1, 10_000))
        loaded.truncated = 0
        box["predictor"] = loaded
    except BaseException as exc:  # re-raised in the main thread: the server must not start
        box["error"] = exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number of seconds") from None


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Serve this etbuilder app over HTTP.")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--log-level", default="info", help="debug, info, warning, error")
    parser.add_argument("--no-access-log", action="store_true", help="no line per request")
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers > 1:
        return _supervise(args, argv if argv is not None else sys.argv[1:])
    threads = int(os.environ.get("ETB_THREADS") or 0) or None
    box: dict[str, Any] = {}
    loader = threading.Thread(target=_load_model, args=(box, threads), name="etb-load")
    loader.start()

    import asyncio
    import logging

    logging.basicConfig(
        level=args.log_level.upper(), format="%(message)s", stream=sys.stdout, force=True
    )
    if args.no_access_log:
        logging.getLogger("etb.access").setLevel(logging.WARNING)
    sock = _bind(args.host, args.port, args.reuse_port)
    loader.join()
    if "error" in box:
        from inference import ModelLoadError

        if isinstance(box["error"], ModelLoadError):
            raise SystemExit(f"error: {box['error']}")
        raise box["error"]
    from app_routes import App

    app = App(APP_DIR, box["predictor"], STARTED, log_texts=os.environ.get("ETB_LOG_TEXTS") == "1")
    limits = app.limits(
        header_timeout_s=_env_float("ETB_HEADER_TIMEOUT_S", 10.0),
        body_timeout_s=_env_float("ETB_BODY_TIMEOUT_S", 30.0),
        keepalive_s=_env_float("ETB_KEEPALIVE_S", 5.0),
    )
    grace = _env_float("ETB_SHUTDOWN_GRACE_S", 30.0)
    asyncio.run(app.serve(sock, limits, grace, f"http://{args.host}:{args.port}"))
    return 0


def _bind(host: str, port: int, reuse_port: bool) -> Any:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _supervise(args: Any, argv: list[str]) -> int:
    """--workers N: N server processes sharing the port (SO_REUSEPORT); signals forwarded."""
    import signal
    import subprocess

    env = dict(os.environ)
    if "ETB_THREADS" not in env:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        env["ETB_THREADS"] = str(max(1, cores // args.workers))
    child = [a for a in argv if not a.startswith("--workers")]
    if "--workers" in argv:
        i = argv.index("--workers")
        child = argv[:i] + argv[i + 2 :]
    procs = [
        subprocess.Popen([sys.executable, str(Path(__file__)), *child, "--reuse-port"], env=env)
        for _ in range(args.workers)
    ]

    def forward(signum: int, _: Any) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(p.wait() for p in procs)


if __name__ == "__main__":
    sys.exit(main())
