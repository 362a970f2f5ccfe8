"""The packaged app's server as a real process, over HTTP, with torch/transformers/etbuilder
blocked from import: every task answers, limits and bad requests get 4xx JSON errors, and a
load of 2,000 requests from 16 concurrent clients ends without an error."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from etbuilder.package import predict_with_app
from tests.fixtures.tiny_run import TASKS, cached_app

pytestmark = pytest.mark.e2e
FP32 = "onnx/model.onnx"

GUARD = """\
import runpy, sys
BLOCKED = {"torch", "transformers", "etbuilder"}
class _Guard:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"import guard: {name} may not be imported by the app")
        return None
assert not BLOCKED & {m.partition(".")[0] for m in sys.modules}, "imported before the guard"
sys.meta_path.insert(0, _Guard())
sys.argv = ["server.py", *sys.argv[1:]]
sys.path.insert(0, ".")
runpy.run_path("server.py", run_name="__main__")
"""
"""Runs the app's server.py with a meta-path finder that refuses torch, transformers and
etbuilder."""


@dataclass
class Server:
    app: Path
    url: str
    manifest: dict[str, Any]
    process: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(app: Path, workdir: Path, **env_extra: str) -> Iterator[Server]:
    guard = workdir / "guarded_server.py"
    guard.write_text(GUARD, encoding="utf-8")
    port = _free_port()
    log = workdir / f"server-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env_extra
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(guard), "--host", "127.0.0.1", "--port", str(port)],
            cwd=app,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.1)
        manifest = json.loads((app / "manifest.json").read_text())
        yield Server(app, url, manifest, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def apps_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny-apps"


@pytest.fixture(scope="module", params=TASKS)
def server(request: pytest.FixtureRequest, apps_base: Path, tmp_path_factory) -> Iterator[Server]:
    app = cached_app(apps_base, request.param)
    yield from start_server(app, tmp_path_factory.mktemp(f"srv-{request.param}"))


@pytest.fixture(scope="module")
def classification_server(apps_base: Path, tmp_path_factory) -> Iterator[Server]:
    # fp32: its labels do not depend on which requests share a micro-batch (int8's dynamic
    # activation scales do), so every answer can be checked against the in-process result.
    app = cached_app(apps_base, "classification")
    yield from start_server(app, tmp_path_factory.mktemp("srv-load"), ETB_MODEL_FILE=FP32)


def _examples(s: Server) -> list[Any]:
    return json.loads((s.app / "examples" / "request.json").read_text())["inputs"]


def _text(s: Server, text: str) -> Any:
    return [text, text[::-1]] if s.manifest["inputs"]["kind"] == "pair" else text


def _assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]


def test_predict_answers_every_task_like_in_process(server: Server) -> None:
    inputs = [*_examples(server), _text(server, "a short one"), _text(server, "")]
    r = httpx.post(f"{server.url}/v1/predict", json={"inputs": inputs}, timeout=30)
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert len(predictions) == len(inputs)
    task = server.manifest["task"]
    labels = task["labels"]
    for item, p in zip(inputs, predictions, strict=True):
        if task["type"] in ("classification", "pair_classification"):
            assert p["label"] in labels and set(p["scores"]) == set(labels)
            assert p["score"] == pytest.approx(max(p["scores"].values()))
            assert sum(p["scores"].values()) == pytest.approx(1.0, abs=1e-6)
        elif task["type"] == "multilabel":
            threshold = task["options"]["threshold"]
            assert p["labels"] == sorted(
                (x for x in labels if p["scores"][x] >= threshold), key=lambda x: -p["scores"][x]
            )
        elif task["type"] == "regression":
            assert isinstance(p["value"], float)
        elif task["type"] == "embedding":
            assert len(p["vector"]) == 32
            assert sum(v * v for v in p["vector"]) == pytest.approx(1.0, abs=1e-4)
        else:
            for e in p["entities"]:
                assert item[e["start"] : e["end"]] == e["text"] and e["text"].strip()
                assert f"B-{e['type']}" in labels or f"I-{e['type']}" in labels
    # The same numbers as the in-process path (etb predict) on the served model.
    local = predict_with_app(server.app, inputs)
    for got, want in zip(predictions, local, strict=True):
        assert _same(got, want), (got, want)


def _same(a: Any, b: Any) -> bool:
    """Equal, floats within 1e-4 (batch padding may move the last digits)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-4
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_health_metadata_and_docs(server: Server) -> None:
    health = httpx.get(f"{server.url}/v1/health").json()
    assert health["status"] == "ok" and health["model"] == server.manifest["model"]["served"]
    meta = httpx.get(f"{server.url}/v1/metadata").json()
    assert meta["task"]["type"] == server.manifest["task"]["type"]
    assert meta["inputs"]["max_batch_size"] == 16
    assert meta["spec_hash"] == server.manifest["spec_hash"]
    assert httpx.get(f"{server.url}/docs").status_code == 200
    openapi = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/predict" in openapi["paths"]


def test_limits_and_bad_requests_get_json_4xx(server: Server) -> None:
    url = f"{server.url}/v1/predict"
    limits = server.manifest["inputs"]
    one = _text(server, "fine")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"json": {"inputs": [one] * (limits["max_batch_size"] + 1)}}, 413, "too_many_inputs"),
        ({"json": {"inputs": [_text(server, "x" * 2001)]}}, 413, "text_too_long"),
        ({"content": b'{"inputs": ["' + b"a" * 20000 + b'"]}'}, 413, "body_too_large"),
        ({"content": b'{"inputs": ["unterminated'}, 400, "malformed_json"),
        ({"content": b"\xff\xfe not utf-8"}, 400, "malformed_json"),
        ({"json": {"inputs": []}}, 422, "empty_input"),
        ({"json": {"inputs": "just a string"}}, 422, "invalid_input"),
        ({"json": {"inputs": [1, 2]}}, 422, "invalid_input"),
        ({"json": {"inputs": [None]}}, 422, "invalid_input"),
        ({"json": {"texts": ["wrong key"]}}, 422, "invalid_request"),
        ({"json": {"inputs": [one], "extra": 1}}, 422, "invalid_request"),
        ({"json": ["not", "an", "object"]}, 422, "invalid_request"),
        ({"json": {"inputs": [["a", "b", "c"]]}}, 422, "invalid_input"),
        ({"content": b'{"inputs": ["\\ud800 lone surrogate"]}'}, 422, "invalid_input"),
        ({"content": b"[" * 5000 + b"]" * 5000}, 400, "malformed_json"),
    ]
    if server.manifest["inputs"]["kind"] == "pair":
        cases.append(({"json": {"inputs": ["only one text"]}}, 422, "invalid_input"))
    for kwargs, status, code in cases:
        _assert_error(httpx.post(url, timeout=30, **kwargs), status, code)
    _assert_error(httpx.get(f"{server.url}/v1/nothing"), 404, "not_found")
    _assert_error(httpx.get(url), 405, "method_not_allowed")
    assert httpx.get(f"{server.url}/v1/health").status_code == 200  # still alive


def test_load_2000_requests_16_clients_zero_errors(classification_server: Server) -> None:
    s = classification_server
    texts = [f"review number {i}: " + "good " * (i % 17) + "bad " * (i % 5) for i in range(64)]
    local = predict_with_app(s.app, texts, model_file=FP32)
    expected = {t: p["label"] for t, p in zip(texts, local, strict=True)}
    errors: list[str] = []
    done = 0

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal done
        for j in range(125):
            batch = [texts[(k * 131 + j * 7 + i) % len(texts)] for i in range(1 + (j % 3))]
            try:
                r = await http.post("/v1/predict", json={"inputs": batch})
                got = [p["label"] for p in r.json()["predictions"]] if r.status_code == 200 else []
                if got != [expected[t] for t in batch]:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            done += 1

    async def main() -> None:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=s.url, timeout=60, limits=limits) as http:
            await asyncio.gather(*(client(k, http) for k in range(16)))

    asyncio.run(main())
    assert done == 2000
    assert errors == [], errors[:5]
    assert s.process.poll() is None
    health = httpx.get(f"{s.url}/v1/health").json()
    sent = 16 * sum(1 + (j % 3) for j in range(125))
    assert health["model"] == FP32 and health["inputs"] == sent
