"""A collective that timed out becomes one message naming the wait and what to change."""

from __future__ import annotations

from etbuilder.cli.launch import _timed_out
from etbuilder.errors import RunError


def test_a_gloo_timeout_names_the_wait_and_the_setting() -> None:
    error = RuntimeError(
        "[../third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting "
        "10000ms for recv operation to complete"
    )
    message = _timed_out(error, "0", 10.0)
    assert isinstance(message, RunError)
    text = str(message)
    assert text.startswith("rank 0 waited 10 s in a collective (compute.collective_timeout)")
    # no process group in this process: it cannot tell which rank, and says so
    assert "which one could not be told" in text


def test_other_timeouts_are_not_collectives() -> None:
    assert _timed_out(TimeoutError("read timeout on data.csv"), "0", 10.0) is None
    assert _timed_out(RuntimeError("gloo: connection reset"), "0", 10.0) is None
