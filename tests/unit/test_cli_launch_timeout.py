"""A collective that timed out becomes one message naming the wait and what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_a_collective_timeout_on_one_process_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One process never waits for another: the field would do nothing, so plan refuses it."""
    from etbuilder.cli.main import main

    (tmp_path / "train.csv").write_text("text,label\na,x\nb,y\nc,x\nd,y\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "etb: 1\nname: one\ndata: {train: train.csv}\n"
        "task: {type: classification, text: text, label: label}\n"
        "compute: {collective_timeout: 2m}\n",
        encoding="utf-8",
    )
    assert main(["plan", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "compute.collective_timeout 2m" in err and "runs one process" in err
