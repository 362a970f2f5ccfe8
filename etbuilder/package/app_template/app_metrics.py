"""Prometheus metrics of a packaged app's server, in the text exposition format (no dependency).

Counters and histograms live in plain dicts updated by the event loop thread only; `render()`
writes them as `GET /metrics` answers them. Names follow Prometheus conventions (`_total`
counters, `_seconds` durations, cumulative `_bucket` series with `le` labels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Request duration buckets, seconds."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Micro-batch size buckets, inputs."""

Labels = tuple[tuple[str, str], ...]


class Histogram:
    """Cumulative-bucket histogram with a sum and a count."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1


class Metrics:
    """What the server counts; `gauges` are read at render time (queue depth, in flight)."""

    def __init__(self) -> None:
        self.requests: dict[Labels, int] = {}
        self.errors: dict[Labels, int] = {}
        self.latency: dict[Labels, Histogram] = {}
        self.batch_sizes = Histogram(BATCH_BUCKETS)
        self.inputs = 0
        self.truncated = 0
        self.disconnects = 0
        self.timeouts: dict[Labels, int] = {}
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def request(self, method: str, path: str, status: int, seconds: float, code: str) -> None:
        """Count one answered request (`code`: the JSON error code for 4xx/5xx answers)."""
        key = (("method", method), ("path", path), ("status", str(status)))
        self.requests[key] = self.requests.get(key, 0) + 1
        route = (("path", path),)
        hist = self.latency.get(route)
        if hist is None:
            hist = self.latency[route] = Histogram(LATENCY_BUCKETS)
        hist.observe(seconds)
        if status >= 400:
            err = (("status", str(status)), ("code", code))
            self.errors[err] = self.errors.get(err, 0) + 1

    def batch(self, size: int, truncated: int) -> None:
        self.batch_sizes.observe(size)
        self.inputs += size
        self.truncated += truncated

    def timeout(self, phase: str) -> None:
        key = (("phase", phase),)
        self.timeouts[key] = self.timeouts.get(key, 0) + 1

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.gauges[name] = (help_text, read)

    def render(self) -> str:
        out: list[str] = []
        _counter(out, "etb_requests_total", "HTTP requests answered.", self.requests)
        _counter(
            out, "etb_request_errors_total", "Answers with status >= 400, by code.", self.errors
        )
        out += _header("etb_request_duration_seconds", "histogram", "Time to answer a request.")
        for labels, hist in sorted(self.latency.items()):
            _histogram(out, "etb_request_duration_seconds", labels, hist)
        out += _header("etb_batch_size", "histogram", "Inputs per micro-batch run by the model.")
        _histogram(out, "etb_batch_size", (), self.batch_sizes)
        _counter(out, "etb_inputs_total", "Inputs predicted.", {(): self.inputs})
        _counter(
            out,
            "etb_texts_truncated_total",
            "Inputs longer than the model's max_length (truncated).",
            {(): self.truncated},
        )
        _counter(
            out,
            "etb_client_disconnects_total",
            "Clients that closed the connection in the middle of a request.",
            {(): self.disconnects},
        )
        _counter(out, "etb_timeouts_total", "Reads that timed out, by phase.", self.timeouts)
        for name, (help_text, read) in sorted(self.gauges.items()):
            out += _header(name, "gauge", help_text)
            out.append(f"{name} {_num(read())}")
        return "\n".join(out) + "\n"


def _header(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _counter(out: list[str], name: str, help_text: str, values: dict[Labels, int]) -> None:
    out += _header(name, "counter", help_text)
    for labels, value in sorted(values.items()):
        out.append(f"{name}{_labels(labels)} {value}")


def _histogram(out: list[str], name: str, labels: Labels, hist: Histogram) -> None:
    running = 0
    for bound, count in zip((*hist.buckets, float("inf")), hist.counts, strict=True):
        running += count
        le = "+Inf" if bound == float("inf") else _num(bound)
        out.append(f"{name}_bucket{_labels((*labels, ('le', le)))} {running}")
    out.append(f"{name}_sum{_labels(labels)} {_num(hist.sum)}")
    out.append(f"{name}_count{_labels(labels)} {hist.count}")


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + inner + "}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
