"""The app's server under slow, vanishing and counted clients, and while it shuts down.

Each test runs the real server process (torch/transformers/etbuilder blocked) on the tiny
classification app and talks to it over raw sockets where a well-behaved client cannot show
the case (a trickled head or body, a client that vanishes mid-body).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_server import Server, start_server
from tests.fixtures.tiny_run import cached_app

pytestmark = pytest.mark.e2e
serving = contextmanager(start_server)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp() / "tiny-apps"
    return cached_app(base, "classification")


def _app_copy(app: Path, folder: Path, **inputs: float) -> Path:
    """A copy of `app` whose manifest limits are changed by `inputs`."""
    copy = folder / "app"
    shutil.copytree(app, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["inputs"].update(inputs)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.fixture
def server(app: Path, tmp_path: Path) -> Iterator[Server]:
    yield from start_server(app, tmp_path)


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of one response (the server sends Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


def test_a_trickled_head_is_answered_408(app: Path, tmp_path: Path) -> None:
    with serving(app, tmp_path, ETB_HEADER_TIMEOUT_S="1") as s:
        sock = _connect(s.url)
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")  # ... and nothing more
        status, body = _read_response(sock)
        assert status == 408 and body["error"]["code"] == "header_timeout"
        sock.close()
        assert httpx.get(f"{s.url}/v1/health").status_code == 200


def test_a_trickled_body_gets_408_and_holds_up_no_other_request(app: Path, tmp_path: Path) -> None:
    """With a 1 s micro-batch window, a server that waited for the stalled body would make
    every other request wait the whole window; here they are answered without it."""
    slow = _app_copy(app, tmp_path, batch_wait_ms=1000.0)
    with serving(slow, tmp_path, ETB_BODY_TIMEOUT_S="4") as s:
        stalled = _connect(s.url)
        body = b'{"inputs": ["never finished"]}'
        stalled.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body[:10]
        )
        time.sleep(1.2)  # past the one window a slow body may hold a batch
        with httpx.Client(base_url=s.url, timeout=30) as http:
            for text in ("one", "two", "three"):
                t = time.perf_counter()
                r = http.post("/v1/predict", json={"inputs": [text]})
                assert r.status_code == 200, r.text
                assert time.perf_counter() - t < 1.0, "the stalled body held this request up"
        status, answer = _read_response(stalled)
        assert status == 408 and answer["error"]["code"] == "body_timeout"
        stalled.close()


def test_a_client_leaving_mid_body_is_one_info_line(server: Server) -> None:
    sock = _connect(server.url)
    sock.sendall(b'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"in')
    time.sleep(0.2)
    sock.close()
    deadline = time.monotonic() + 10
    while "disconnected" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(f"{server.url}/v1/health").status_code == 200
    log = server.log.read_text()
    lines = [line for line in log.splitlines() if "disconnected" in line]
    assert lines == [lines[0]] and "while sending the request body (4 of 1000 bytes)" in lines[0]
    assert "Traceback" not in log and "ERROR" not in log


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one series of a Prometheus text page (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_a_scripted_sequence_exactly(server: Server) -> None:
    long_text = "word " * 200  # over the model's max_length of 32 tokens: truncated
    with httpx.Client(base_url=server.url, timeout=30) as http:
        before = http.get("/metrics").text  # the start-up health checks are counted too
        for inputs in (["a"], ["a", "b"], ["a", "b", "c"], [long_text]):
            assert http.post("/v1/predict", json={"inputs": inputs}).status_code == 200
        assert http.post("/v1/predict", json={"inputs": []}).status_code == 422
        assert http.post("/v1/predict", json={"inputs": ["x"] * 17}).status_code == 413
        assert http.post("/v1/predict", content=b"{oops").status_code == 400
        assert http.get("/nothing/here").status_code == 404
        assert http.get("/v1/predict").status_code == 405
        text = http.get("/metrics").text
    post = {"method": "POST", "path": "/v1/predict"}
    assert _metric(text, "etb_requests_total", **post, status="200") == 4
    for status, code in (
        ("422", "empty_input"),
        ("413", "too_many_inputs"),
        ("400", "malformed_json"),
    ):
        assert _metric(text, "etb_requests_total", **post, status=status) == 1
        assert _metric(text, "etb_request_errors_total", status=status, code=code) == 1
    assert _metric(text, "etb_requests_total", method="GET", path="other", status="404") == 1
    assert _metric(text, "etb_request_errors_total", status="404", code="not_found") == 1
    assert _metric(text, "etb_request_errors_total", status="405", code="method_not_allowed") == 1
    metrics_get = {"method": "GET", "path": "/metrics", "status": "200"}
    assert _metric(text, "etb_requests_total", **metrics_get) == 1
    assert _metric(before, "etb_requests_total", **metrics_get) == 0
    assert _metric(text, "etb_request_duration_seconds_count", path="/v1/predict") == 8
    assert _metric(text, "etb_request_duration_seconds_bucket", path="/v1/predict", le="+Inf") == 8
    # Sequential requests: one micro-batch each, of 1, 2, 3 and 1 inputs.
    assert _metric(text, "etb_batch_size_count") == 4
    assert _metric(text, "etb_batch_size_sum") == 7
    assert _metric(text, "etb_batch_size_bucket", le="1") == 2
    assert _metric(text, "etb_batch_size_bucket", le="2") == 3
    assert _metric(text, "etb_inputs_total") == 7
    assert _metric(text, "etb_texts_truncated_total") == 1
    assert _metric(text, "etb_queue_depth") == 0
    assert _metric(text, "etb_requests_in_flight") == 1  # the /metrics request itself


def test_shutdown_during_a_burst_answers_every_request_it_read(app: Path, tmp_path: Path) -> None:
    with serving(app, tmp_path, ETB_MODEL_FILE="onnx/model.onnx") as s:
        ok: list[int] = []
        failures: list[str] = []
        half = b'{"inputs": ["a request whose body'
        rest = b' arrives after the shutdown signal"]}'

        async def client(k: int) -> None:
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as http:
                for j in range(10_000):
                    try:
                        r = await http.post("/v1/predict", json={"inputs": [f"text {k} {j}"] * 4})
                    except httpx.TransportError as exc:
                        failures.append(type(exc).__name__)
                        return
                    assert r.status_code == 200, r.text
                    ok.append(1)

        async def burst() -> None:
            tasks = [asyncio.create_task(client(k)) for k in range(8)]
            while len(ok) < 200:
                await asyncio.sleep(0.01)
            pending = _connect(s.url)  # a request read in part when the signal comes
            pending.sendall(
                b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                % (len(half) + len(rest))
                + half
            )
            await asyncio.sleep(0.3)
            s.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            pending.sendall(rest)
            status, body = await asyncio.to_thread(_read_response, pending)
            assert status == 200 and len(body["predictions"]) == 1
            pending.close()
            await asyncio.gather(*tasks)

        asyncio.run(burst())
        assert s.process.wait(timeout=30) == 0
        log = s.log.read_text()
        match = re.search(r"shutdown: (\d+) request\(s\) received, (\d+) answered", log)
        assert match, log[-2000:]
        assert match.group(1) == match.group(2)
        answered = [
            json.loads(line)
            for line in log.splitlines()
            if line.startswith("{") and '"/v1/predict"' in line
        ]
        assert all(line["status"] == 200 for line in answered)
        assert len(answered) == len(ok) + 1  # every answer the server wrote reached its client
        assert len(failures) == 8  # each client stopped at a refused or closed connection
        assert "Traceback" not in log


def test_docs_work_offline(server: Server) -> None:
    page = httpx.get(f"{server.url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/v1/predict" in page.text
    assert not re.search(r"""(src|href)=["']?https?://""", page.text), "external asset"
    info = httpx.get(f"{server.url}/v1/info").json()
    assert info["labels"] == ["neg", "neu", "pos"] and info["versions"]["onnxruntime"]
