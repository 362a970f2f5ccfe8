"""`etb serve APP --check`: start the app's server, post its example request, stop it.

Proves that a packaged app starts and answers, the way a deployment's health check would.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from etbuilder.errors import PackageError

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, process: subprocess.Popen[bytes], client: Any) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < STARTUP_TIMEOUT_S:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise PackageError(f"the app's server exited with {process.returncode}:\n{output}")
        try:
            if client.get(f"{base}/v1/health").status_code == 200:
                return time.perf_counter() - start
        except Exception:
            time.sleep(0.05)
    raise PackageError(f"the app's server did not answer /v1/health within {STARTUP_TIMEOUT_S}s")


def check_app(folder: Path) -> dict[str, Any]:
    """Start the server on a free loopback port, send examples/request.json, return the answer."""
    import httpx

    request = json.loads((folder / "examples" / "request.json").read_text(encoding="utf-8"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, str(folder / "server.py"), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(argv, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(timeout=30.0) as client:
            ready = _wait_healthy(base, process, client)
            response = client.post(f"{base}/v1/predict", json=request)
            if response.status_code != 200:
                raise PackageError(
                    f"the app answered {response.status_code} to its example request: "
                    f"{response.text}"
                )
            return {"ready_seconds": ready, "request": request, "response": response.json()}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
