"""The app's HTTP routes, its micro-batcher and its serving loop (see `server.py`)."""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app_http import HttpError, HttpServer, Limits, Request, Response, json_response
from app_metrics import Metrics
from inference import InputError

log = logging.getLogger("etb.server")
Job = tuple[list[Any], "asyncio.Future[list[Any]]"]


class Batcher:
    """Collects concurrent requests and runs them together in one worker thread.

    A batch waits up to `wait_s` for more requests only while some request's body is still
    arriving (`incoming()`), and each such request counts for one window at most: a client
    that trickles its body does not hold up the others.
    """

    def __init__(self, predictor: Any, max_items: int, wait_s: float, metrics: Metrics) -> None:
        self.predictor = predictor
        self.max_items = max_items
        self.wait_s = wait_s
        self.metrics = metrics
        self.incoming: Any = lambda: 0
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onnx")
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0
        self.queued = 0
        """Inputs waiting for the model (the queue depth, in inputs)."""

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, inputs: list[Any]) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.queued += len(inputs)
        self.queue.put_nowait((inputs, future))
        return await future

    async def _collect(self) -> list[Job]:
        loop = asyncio.get_running_loop()
        jobs = [await self.queue.get()]
        count = len(jobs[0][0])
        deadline = loop.time() + self.wait_s
        while count < self.max_items:
            if self.queue.empty():
                remaining = deadline - loop.time()
                if self.incoming() == 0 or remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                job = self.queue.get_nowait()
            jobs.append(job)
            count += len(job[0])
        return jobs

    def _run(self, flat: list[Any]) -> tuple[list[Any], int]:
        before = self.predictor.truncated
        results = self.predictor.predict(flat)
        return results, self.predictor.truncated - before

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            flat = [item for inputs, _ in jobs for item in inputs]
            self.queued -= len(flat)
            self.batches += 1
            self.items += len(flat)
            try:
                results, truncated = await loop.run_in_executor(self.executor, self._run, flat)
            except Exception as exc:  # handed to each waiting request, never kills the loop
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.metrics.batch(len(flat), truncated)
            start = 0
            for inputs, future in jobs:
                if not future.done():
                    future.set_result(results[start : start + len(inputs)])
                start += len(inputs)


class App:
    """Routes of a packaged app around its Predictor."""

    def __init__(self, app_dir: Path, predictor: Any, started: float, log_texts: bool) -> None:
        self.app_dir = app_dir
        self.predictor = predictor
        self.started = started
        self.log_texts = log_texts
        self.manifest: dict[str, Any] = predictor.manifest
        limits = self.manifest["inputs"]
        self.max_items = int(limits["max_batch_size"])
        self.max_chars = int(limits["max_text_chars"])
        self.max_body = int(limits["max_body_bytes"])
        self.wait_s = float(limits.get("batch_wait_ms", 5.0)) / 1000.0
        self.metrics = Metrics()
        self.batcher = Batcher(predictor, max(self.max_items, 64), self.wait_s, self.metrics)
        self.http: HttpServer | None = None
        self.routes = {
            ("POST", "/v1/predict"): self.predict,
            ("GET", "/v1/health"): self.health,
            ("GET", "/v1/info"): self.info,
            ("GET", "/v1/metadata"): self.metadata,
            ("GET", "/metrics"): self.prometheus,
            ("GET", "/openapi.json"): self.openapi,
            ("GET", "/docs"): self.docs,
        }
        self.paths = {path for _, path in self.routes}

    def limits(self, **timeouts: float) -> Limits:
        return Limits(max_body_bytes=self.max_body, **timeouts)

    async def serve(self, sock: socket.socket, limits: Limits, grace_s: float, url: str) -> None:
        """Serve until SIGTERM/SIGINT, then drain (answer what was read) and return."""
        loop = asyncio.get_running_loop()
        self.batcher.start()
        self.http = HttpServer(self.handle, limits, self.metrics)
        self.http.body_hold_s = self.wait_s
        self.http.known_paths = self.paths
        self.batcher.incoming = lambda: self.http.reading_body if self.http else 0
        self.metrics.gauge(
            "etb_queue_depth", "Inputs waiting for the model.", lambda: self.batcher.queued
        )
        self.metrics.gauge(
            "etb_requests_in_flight",
            "Requests read and not yet answered.",
            lambda: self.http.in_flight if self.http else 0,
        )
        await self.http.start(sock)
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info(
            "serving %s on %s (model %s, %d threads, ready in %.2f s)",
            self.manifest.get("name"),
            url,
            self.predictor.model_file,
            self.predictor.threads,
            time.time() - self.started,
        )
        await stop.wait()
        log.info("shutting down: finishing %d request(s) in flight", self.http.in_flight)
        await self.http.shutdown(grace_s)
        await self.batcher.stop()

    async def handle(self, request: Request) -> Response:
        route = self.routes.get((request.method, request.path))
        if route is not None:
            return await route(request)
        if request.path in self.paths:
            allowed = sorted(m for m, p in self.routes if p == request.path)
            raise HttpError(
                405, "method_not_allowed", f"{request.method} {request.path}: use {allowed[0]}"
            )
        raise HttpError(404, "not_found", f"no route {request.path}; see /docs")

    # -- routes ---------------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        inputs = self._parse(request.body)
        predictions = await self.batcher.submit(inputs)
        response = json_response({"predictions": predictions})
        response.log = {"inputs": len(inputs)}
        if self.log_texts:
            response.log["texts"] = inputs
        return response

    def _parse(self, body: bytes) -> list[Any]:
        if len(body) > self.max_body:
            raise HttpError(413, "body_too_large", f"body over the {self.max_body}-byte limit")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise HttpError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict) or "inputs" not in payload:
            raise HttpError(
                422, "invalid_request", 'the body must be a JSON object {"inputs": [...]}'
            )
        extra = sorted(set(payload) - {"inputs"})
        if extra:
            raise HttpError(
                422, "invalid_request", f"unknown fields {extra}; only `inputs` is accepted"
            )
        try:
            checked: list[Any] = self.predictor.check(
                payload["inputs"], self.max_items, self.max_chars
            )
        except InputError as exc:
            raise HttpError(exc.status, exc.code, exc.message) from None
        return checked

    async def health(self, _: Request) -> Response:
        """Liveness: the model is loaded and the batcher runs."""
        task = self.batcher.task
        running = task is not None and not task.done()
        return json_response(
            {
                "status": "ok" if running else "stopped",
                "model": self.predictor.model_file,
                "uptime_s": round(time.time() - self.started, 3),
                "batches": self.batcher.batches,
                "inputs": self.batcher.items,
            }
        )

    async def metadata(self, _: Request) -> Response:
        """What the app decides, its labels, limits, served model and measured quality."""
        m = self.manifest
        keys = ("name", "description", "task", "inputs", "model", "quality", "run_metrics")
        return json_response(
            {k: m[k] for k in keys if k in m}
            | {
                "etbuilder_version": m.get("etbuilder_version"),
                "spec_hash": m.get("spec_hash"),
                "served_model": self.predictor.model_file,
            }
        )

    async def info(self, _: Request) -> Response:
        """Model, labels, measured metrics and the versions of what runs it."""
        import numpy
        import onnxruntime
        import tokenizers

        m = self.manifest
        model = m.get("model", {})
        return json_response(
            {
                "name": m.get("name"),
                "task": m["task"]["type"],
                "labels": m["task"]["labels"],
                "model": {
                    "file": self.predictor.model_file,
                    "precision": model.get("precision"),
                    "backbone": m.get("backbone"),
                    "max_length": m["task"]["max_length"],
                },
                "metrics": {"run": m.get("run_metrics"), "quality_gate": m.get("quality")},
                "limits": m["inputs"],
                "versions": {
                    "etbuilder": m.get("etbuilder_version"),
                    "python": platform.python_version(),
                    "onnxruntime": onnxruntime.__version__,
                    "tokenizers": tokenizers.__version__,
                    "numpy": numpy.__version__,
                },
                "spec_hash": m.get("spec_hash"),
            }
        )

    async def prometheus(self, _: Request) -> Response:
        return Response(
            200, self.metrics.render().encode(), "text/plain; version=0.0.4; charset=utf-8"
        )

    async def openapi(self, _: Request) -> Response:
        return json_response(openapi_document(self.manifest, self.max_items, self.max_chars))

    async def docs(self, _: Request) -> Response:
        return Response(200, docs_page(self.manifest).encode(), "text/html; charset=utf-8")


def openapi_document(manifest: dict[str, Any], max_items: int, max_chars: int) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the routes (built here: no framework generates it)."""
    pair = manifest["inputs"]["kind"] == "pair"
    item: dict[str, Any] = (
        {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}
        if pair
        else {"type": "string", "maxLength": max_chars}
    )
    error = {
        "description": 'JSON error: {"error": {"code", "message"}}',
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }

    def get(summary: str, kind: str = "application/json") -> dict[str, Any]:
        return {"get": {"summary": summary, "responses": {"200": {"description": kind}}}}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{manifest.get('name', 'etbuilder app')} ({manifest['task']['type']})",
            "description": manifest.get("description") or "A model packaged by etbuilder.",
            "version": str(manifest.get("etbuilder_version", "")),
        },
        "paths": {
            "/v1/predict": {
                "post": {
                    "summary": "Predict for every input, answered in input order.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["inputs"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "inputs": {
                                            "type": "array",
                                            "items": item,
                                            "minItems": 1,
                                            "maxItems": max_items,
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": '{"predictions": [...]}, one per input'},
                        "400": error,
                        "408": error,
                        "413": error,
                        "422": error,
                    },
                }
            },
            "/v1/health": get("Liveness: the model is loaded and the batcher runs."),
            "/v1/info": get("Model, labels, measured metrics, versions."),
            "/v1/metadata": get("The manifest's task, limits, model and quality."),
            "/metrics": get("Prometheus metrics.", "text/plain"),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                }
            }
        },
    }


def docs_page(manifest: dict[str, Any]) -> str:
    """A self-contained HTML page (no scripts, no external assets: works offline)."""
    import html

    example = json.dumps({"inputs": manifest.get("examples") or ["..."]})
    title = html.escape(f"{manifest.get('name', 'etbuilder app')} ({manifest['task']['type']})")
    rows = [
        ("POST", "/v1/predict", 'body {"inputs": [...]} -> {"predictions": [...]}'),
        ("GET", "/v1/health", "liveness"),
        ("GET", "/v1/info", "model, labels, metrics, versions"),
        ("GET", "/v1/metadata", "task, limits, served model, quality gate"),
        ("GET", "/metrics", "Prometheus metrics"),
        ("GET", "/openapi.json", "OpenAPI 3.1 description"),
    ]
    table = "".join(
        f"<tr><td>{m}</td><td><a href='{p}'>{p}</a></td><td>{html.escape(d)}</td></tr>"
        if m == "GET"
        else f"<tr><td>{m}</td><td>{p}</td><td>{html.escape(d)}</td></tr>"
        for m, p, d in rows
    )
    labels = html.escape(", ".join(map(str, manifest["task"]["labels"])))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body style='font-family:sans-serif;max-width:50em;margin:2em auto'>"
        f"<h1>{title}</h1><p>{html.escape(manifest.get('description') or '')}</p>"
        f"<p>Labels: {labels}</p><table border='1' cellpadding='4'>{table}</table>"
        f"<p>Example:</p><pre>curl -X POST -H 'Content-Type: application/json' "
        f"-d '{html.escape(example)}' http://HOST:PORT/v1/predict</pre></body></html>"
    )
