"""HTTP server of a packaged etbuilder app. Start it inside the app folder:

    uvicorn server:app --host 0.0.0.0 --port 8000

POST /v1/predict {"inputs": [...]} -> {"predictions": [...]}, GET /v1/health, GET /v1/metadata,
OpenAPI docs at /docs. Every error is JSON: {"error": {"code": ..., "message": ...}}.
Concurrent requests are micro-batched: a queue collects them for up to `batch_wait_ms` and
one worker thread runs them through onnxruntime in length-sorted batches.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

APP_DIR = Path(os.environ.get("ETB_APP_DIR") or Path(__file__).resolve().parent)
STARTED = time.time()


def _load_model(box: dict[str, Any]) -> None:
    """Import the inference core, open the model and answer once (warm-up), in a thread.

    It runs while the main thread imports FastAPI and builds the app: onnxruntime loads the
    model and runs it with the GIL released, so on two cores the cold start is about the
    longer of the two instead of their sum.
    """
    try:
        from inference import Predictor

        loaded = Predictor(
            APP_DIR,
            model_file=os.environ.get("ETB_MODEL_FILE") or None,
            threads=int(os.environ.get("ETB_THREADS") or 0) or None,
            spin=False,
        )
        loaded.predict(loaded.check(_warm_up_inputs(loaded), 1, 10_000))
        box["predictor"] = loaded
    except BaseException as exc:  # re-raised in the main thread: the server must not start
        box["error"] = exc


def _warm_up_inputs(loaded: Any) -> list[Any]:
    return [["warm up", "warm up"]] if loaded.pair else ["warm up"]


_box: dict[str, Any] = {}
_loader = threading.Thread(target=_load_model, args=(_box,), name="etb-load", daemon=True)
_loader.start()

import asyncio  # noqa: E402  (after the loader starts: these imports overlap the model load)
from collections.abc import AsyncIterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

MANIFEST: dict[str, Any] = json.loads((APP_DIR / "manifest.json").read_text(encoding="utf-8"))
LIMITS: dict[str, Any] = MANIFEST["inputs"]
MAX_ITEMS = int(LIMITS["max_batch_size"])
MAX_CHARS = int(LIMITS["max_text_chars"])
MAX_BODY = int(LIMITS["max_body_bytes"])
WAIT_S = float(LIMITS.get("batch_wait_ms", 5.0)) / 1000.0
"""ETB_MODEL_FILE serves another model file (e.g. onnx/model.onnx); ETB_THREADS sets the
onnxruntime threads per process (default: every core; `etb serve --workers N` divides them)."""


class Batcher:
    """Collects concurrent requests and runs them together in one worker thread."""

    def __init__(self, max_items: int, wait_s: float) -> None:
        self.max_items = max_items
        self.wait_s = wait_s
        self.incoming = 0
        """Requests being read and checked, not yet queued: worth waiting for."""
        self.queue: asyncio.Queue[tuple[list[Any], asyncio.Future[list[Any]]]] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onnx")
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, inputs: list[Any]) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((inputs, future))
        return await future

    async def _collect(self) -> list[tuple[list[Any], asyncio.Future[list[Any]]]]:
        loop = asyncio.get_running_loop()
        jobs = [await self.queue.get()]
        count = len(jobs[0][0])
        deadline = loop.time() + self.wait_s
        while count < self.max_items:
            if self.queue.empty():
                remaining = deadline - loop.time()
                if self.incoming == 0 or remaining <= 0:
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

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            flat = [item for inputs, _ in jobs for item in inputs]
            self.batches += 1
            self.items += len(flat)
            try:
                results = await loop.run_in_executor(self.executor, predictor.predict, flat)
            except Exception as exc:  # handed to each waiting request, never kills the loop
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for inputs, future in jobs:
                if not future.done():
                    future.set_result(results[start : start + len(inputs)])
                start += len(inputs)


batcher: Batcher | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global batcher
    batcher = Batcher(max(MAX_ITEMS, 64), WAIT_S)
    batcher.start()
    yield
    await batcher.stop()


app = FastAPI(
    title=f"{MANIFEST.get('name', 'etbuilder app')} ({MANIFEST['task']['type']})",
    description=MANIFEST.get("description") or "A model packaged by etbuilder.",
    version=str(MANIFEST.get("etbuilder_version", "")),
    lifespan=lifespan,
)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _input_error(_: Request, exc: InputError) -> JSONResponse:
    return _error(exc.status, exc.code, exc.message)


@app.exception_handler(StarletteHTTPException)
async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _error(exc.status_code, code, str(exc.detail))


@app.exception_handler(RequestValidationError)
async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    return _error(422, "invalid_request", str(exc.errors()[:3]))


@app.exception_handler(Exception)
async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    return _error(500, "internal_error", f"{type(exc).__name__}: {exc}")


class PairOrText(BaseModel):
    """Documentation of the request body (validation is done by hand for clear errors)."""

    inputs: list[str] | list[list[str]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="Texts, or [text_a, text_b] pairs for pair tasks; at most "
        f"{MAX_ITEMS} per request, {MAX_CHARS} characters per text.",
    )


class Predictions(BaseModel):
    predictions: list[dict[str, Any]]


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise InputError(
            "body_too_large", f"body of {declared} bytes; the limit is {MAX_BODY}", 413
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InputError("body_too_large", f"body over the {MAX_BODY}-byte limit", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> list[Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError("malformed_json", f"the body is not valid JSON: {exc}", 400) from None
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise InputError("invalid_request", 'the body must be a JSON object {"inputs": [...]}')
    extra = sorted(set(payload) - {"inputs"})
    if extra:
        raise InputError("invalid_request", f"unknown fields {extra}; only `inputs` is accepted")
    return predictor.check(payload["inputs"], MAX_ITEMS, MAX_CHARS)


@app.post(
    "/v1/predict",
    response_model=Predictions,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PairOrText.model_json_schema()}},
        }
    },
)
async def predict(request: Request) -> JSONResponse:
    """Predict for every input, answered in input order."""
    assert batcher is not None
    batcher.incoming += 1
    try:
        inputs = _parse(await _read_body(request))
    finally:
        batcher.incoming -= 1
    # Returned as is: the dicts are JSON-ready, so FastAPI's response validation (the
    # response_model still documents the shape) would only cost time per request.
    return JSONResponse({"predictions": await batcher.submit(inputs)})


@app.get("/v1/health")
async def health() -> dict[str, Any]:
    """Liveness: the model is loaded and the batcher runs."""
    running = batcher is not None and batcher.task is not None and not batcher.task.done()
    return {
        "status": "ok" if running else "starting",
        "model": predictor.model_file,
        "uptime_s": round(time.time() - STARTED, 3),
        "batches": batcher.batches if batcher else 0,
        "inputs": batcher.items if batcher else 0,
    }


@app.get("/v1/metadata")
async def metadata() -> dict[str, Any]:
    """What the app decides, its labels, limits, served model and measured quality."""
    m = predictor.manifest
    keys = ("name", "description", "task", "inputs", "model", "quality", "run_metrics")
    return {k: m[k] for k in keys if k in m} | {
        "etbuilder_version": m.get("etbuilder_version"),
        "spec_hash": m.get("spec_hash"),
        "served_model": predictor.model_file,
    }


_loader.join()
if "error" in _box:
    raise _box["error"]
from inference import InputError  # noqa: E402  (the loader imported it: no cost here)

predictor = _box["predictor"]
app.add_exception_handler(InputError, _input_error)
