"""A small HTTP/1.1 server on asyncio streams, for a packaged app (standard library only).

Why not an ASGI framework: importing FastAPI alone took 0.26-0.45 s of the app's start on a
2-core CPU (its cold start was 0.6-0.9 s), its per-request work was about half of the HTTP
path's overhead, and uvicorn offers no timeout for a client that trickles its request head.

What it does: keep-alive, `Content-Length` and chunked request bodies, `Expect: 100-continue`;
a deadline for the request head and one for the whole body (a slow client gets 408 and is
closed; it holds up nobody else), a head-size limit (431) and a body limit (413, answered
before the body is read); one access-log line per request; graceful shutdown: stop accepting,
answer every request already read, then close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app_metrics import Metrics

log = logging.getLogger("etb.server")
access_log = logging.getLogger("etb.access")

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    422: "Unprocessable Content",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
IDLE_GRACE_S = 0.1
"""On shutdown, an idle kept-alive connection is closed after this long without a request."""
LINGER_S = 1.0
LINGER_BYTES = 4 * 1024 * 1024
"""After an error answered before the body was read (413, 408), the rest of the body is read
and dropped (up to these bounds) before closing: closing a socket with unread data resets the
connection, and the client could lose the answer."""


@dataclass
class Limits:
    max_body_bytes: int
    max_head_bytes: int = 16 * 1024
    header_timeout_s: float = 10.0
    """The request line and headers must arrive within this (from the connection or the
    previous answer)."""
    body_timeout_s: float = 30.0
    """The whole body must arrive within this, counted from the end of the headers."""
    keepalive_s: float = 5.0
    """An idle kept-alive connection is closed after this long."""


class HttpError(Exception):
    """Answered as `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    client: str
    started: float
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    code: str = ""
    """The error code of a 4xx/5xx answer (metrics and log)."""
    log: dict[str, Any] = field(default_factory=dict)
    """Extra fields of the access-log line (e.g. the number of inputs)."""


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False).encode("utf-8"))


def error_response(status: int, code: str, message: str) -> Response:
    response = json_response({"error": {"code": code, "message": message}}, status)
    response.code = code
    return response


Handler = Callable[[Request], Awaitable[Response]]


class _Disconnected(Exception):
    """The client closed the connection mid-request."""


class HttpServer:
    """Serves `handler` on a socket until `shutdown()`."""

    def __init__(self, handler: Handler, limits: Limits, metrics: Metrics) -> None:
        self.handler = handler
        self.limits = limits
        self.metrics = metrics
        self.server: asyncio.Server | None = None
        self.connections: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        """Requests whose head was read and that are not answered yet."""
        self.reading_body = 0
        """Requests whose body is still arriving and arrived recently (see `body_started`)."""
        self.received = 0
        self.answered = 0
        self.known_paths: set[str] = set()
        """Paths labelled by name in the metrics; any other is counted as `other`."""
        self.draining: asyncio.Future[None] | None = None

    async def start(self, sock: socket.socket) -> None:
        self.draining = asyncio.get_running_loop().create_future()
        self.server = await asyncio.start_server(
            self._connection, sock=sock, limit=self.limits.max_head_bytes
        )

    async def shutdown(self, grace_s: float) -> None:
        """Stop accepting; answer what was read (up to `grace_s`); close every connection."""
        if self.server is not None:
            self.server.close()
        if self.draining is not None and not self.draining.done():
            self.draining.set_result(None)
        if self.connections:
            _, pending = await asyncio.wait(set(self.connections), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("shutdown: %d connection(s) cut after %.0f s", len(pending), grace_s)
        log.info("shutdown: %d request(s) received, %d answered", self.received, self.answered)

    # -- one connection -----------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        peer = writer.get_extra_info("peername")
        client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        try:
            first = True
            while True:
                head = await self._read_head(reader, writer, client, first)
                if head is None:
                    return
                if not await self._exchange(head, reader, writer, client):
                    return
                first = False
        except (ConnectionError, _Disconnected):
            pass
        finally:
            self.connections.discard(task)
            writer.close()

    async def _read_head(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: str,
        first: bool,
    ) -> bytes | None:
        """The next request head, or None when the connection should close."""
        timeout = self.limits.header_timeout_s if first else self.limits.keepalive_s
        read = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
        try:
            assert self.draining is not None
            waits: set[asyncio.Future[Any]] = {read} if first else {read, self.draining}
            done, _ = await asyncio.wait(
                waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if read not in done and self.draining.done() and not first:
                # Shutting down: a request already on its way is still taken.
                await asyncio.wait({read}, timeout=IDLE_GRACE_S)
            if not read.done():
                if first:
                    self.metrics.timeout("head")
                    await self._send(
                        writer,
                        error_response(
                            408,
                            "header_timeout",
                            f"the request head did not arrive within "
                            f"{self.limits.header_timeout_s:g} s",
                        ),
                        close=True,
                    )
                return None
            return read.result()
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                self.metrics.disconnects += 1
                log.info("client %s disconnected while sending a request head", client)
            return None
        except asyncio.LimitOverrunError:
            await self._send(
                writer,
                error_response(
                    431,
                    "header_too_large",
                    f"the request head is over {self.limits.max_head_bytes} bytes",
                ),
                close=True,
            )
            return None
        finally:
            if not read.done():
                read.cancel()
            elif not read.cancelled():
                read.exception()  # retrieved: no "exception never retrieved" warning

    async def _exchange(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: str
    ) -> bool:
        """Read one request's body, answer it; False when the connection must close."""
        started = time.perf_counter()
        self.received += 1
        self.in_flight += 1
        request: Request | None = None
        close = False
        try:
            try:
                request = _parse_head(head, client, started)
                close = _wants_close(request)
                request.body = await self._read_body(request, reader, writer)
            except HttpError as exc:
                close = unread = True  # the connection cannot be reused
                response = error_response(exc.status, exc.code, exc.message)
            else:
                unread = False
                try:
                    response = await self.handler(request)
                except HttpError as exc:
                    response = error_response(exc.status, exc.code, exc.message)
                except Exception as exc:  # answered, logged, never kills the connection loop
                    log.exception("unexpected error answering %s", request.path)
                    response = error_response(500, "internal_error", f"{type(exc).__name__}: {exc}")
            close = close or (self.draining is not None and self.draining.done())
            await self._send(writer, response, close)
            self.answered += 1
            self._log(request, response, client, started, len(head))
            if unread:
                await _linger(reader, writer)
            return not close
        except _Disconnected as exc:
            self.metrics.disconnects += 1
            log.info("client %s disconnected %s", client, exc)
            return False
        finally:
            self.in_flight -= 1

    async def _read_body(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        headers = request.headers
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        declared = headers.get("content-length")
        if not chunked and declared is None:
            return b""
        size = 0
        if declared is not None and not chunked:
            if not declared.isdigit():
                raise HttpError(400, "bad_request", f"invalid Content-Length {declared!r}")
            size = int(declared)
            if size > self.limits.max_body_bytes:
                raise HttpError(
                    413,
                    "body_too_large",
                    f"body of {size} bytes; the limit is {self.limits.max_body_bytes}",
                )
            if size == 0:
                return b""
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        read = _read_chunked(reader, self.limits.max_body_bytes) if chunked else None
        self.reading_body += 1
        counted = True

        def stale() -> None:  # a slow body stops holding the micro-batch after one window
            nonlocal counted
            if counted:
                counted = False
                self.reading_body -= 1

        timer = asyncio.get_running_loop().call_later(self.body_hold_s, stale)
        try:
            coro = read if read is not None else reader.readexactly(size)
            return await asyncio.wait_for(coro, self.limits.body_timeout_s)
        except TimeoutError:
            self.metrics.timeout("body")
            raise HttpError(
                408,
                "body_timeout",
                f"the request body did not arrive within {self.limits.body_timeout_s:g} s",
            ) from None
        except ConnectionError:
            raise _Disconnected("while sending the request body") from None
        except asyncio.IncompleteReadError as exc:
            got = len(exc.partial)
            of = f" of {size}" if size else ""
            raise _Disconnected(f"while sending the request body ({got}{of} bytes)") from None
        finally:
            timer.cancel()
            stale()

    body_hold_s = 0.005
    """How long a request whose body is arriving counts in `reading_body` (the server sets
    it to the micro-batch window)."""

    async def _send(self, writer: asyncio.StreamWriter, response: Response, close: bool) -> None:
        head = (
            f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            + ("Connection: close\r\n" if close else "")
            + ("Allow: GET, POST\r\n" if response.status == 405 else "")
            + "\r\n"
        )
        writer.write(head.encode("latin-1") + response.body)
        transport = writer.transport
        if not transport.is_closing() and transport.get_write_buffer_size() == 0:
            return  # the kernel took it all: no task and timer to wait on (most answers)
        try:
            await asyncio.wait_for(writer.drain(), self.limits.body_timeout_s)
        except TimeoutError:
            raise _Disconnected("without reading the answer") from None

    def _log(
        self, request: Request | None, response: Response, client: str, started: float, n: int
    ) -> None:
        seconds = time.perf_counter() - started
        method = request.method if request else "-"
        path = request.path if request else "-"
        label = path if path in self.known_paths else "other"
        self.metrics.request(method, label, response.status, seconds, response.code)
        if access_log.isEnabledFor(logging.INFO):
            line = {
                "ts": round(time.time(), 3),
                "client": client,
                "method": method,
                "path": path,
                "status": response.status,
                "ms": round(seconds * 1000, 2),
                "bytes_in": n + (len(request.body) if request else 0),
                "bytes_out": len(response.body),
            }
            if response.code:
                line["error"] = response.code
            line.update(response.log)
            access_log.info(json.dumps(line, ensure_ascii=False))


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then read and drop what the client still sends (bounded), then return."""
    try:
        if writer.can_write_eof():
            writer.write_eof()
        deadline = asyncio.get_running_loop().time() + LINGER_S
        dropped = 0
        while dropped < LINGER_BYTES:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            data = await asyncio.wait_for(reader.read(65536), left)
            if not data:
                return
            dropped += len(data)
    except (TimeoutError, ConnectionError, OSError):
        return


def _parse_head(head: bytes, client: str, started: float) -> Request:
    try:
        text = head.decode("latin-1")
        line, *rest = text[:-4].split("\r\n")
        method, target, version = line.split(" ")
    except ValueError:
        raise HttpError(400, "bad_request", "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise HttpError(400, "bad_request", f"unsupported protocol {version!r}")
    headers: dict[str, str] = {"_version": version}
    for item in rest:
        name, sep, value = item.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "bad_request", f"malformed header line {item[:40]!r}")
        headers[name.lower()] = value.strip()
    path = target.partition("?")[0]
    return Request(method, path, headers, client, started)


def _wants_close(request: Request) -> bool:
    connection = request.headers.get("connection", "").lower()
    if request.headers["_version"] == "HTTP/1.0":
        return "keep-alive" not in connection
    return "close" in connection


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise HttpError(400, "bad_request", "malformed chunk size") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        total += size
        if total > limit:
            raise HttpError(413, "body_too_large", f"body over the {limit}-byte limit")
        parts.append((await reader.readexactly(size + 2))[:-2])
