"""Checkpoints are atomic (a folder named step-* is complete), pruned, and restore RNG exactly."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

from etbuilder.runtime import checkpoint as ckpt


def write(root: Path, step: int, best_step: int | None = None) -> Path:
    return ckpt.write_checkpoint(
        root,
        step,
        model_state={"w": torch.full((2, 2), float(step))},
        optimizer_state={"optimizer": {"step": step}},
        state={"train": {"step": step, "best_step": best_step}},
        rng={0: ckpt.rng_state()},
        keep=2,
    )


def test_write_read_and_keep_the_most_recent(tmp_path: Path) -> None:
    for step in (3, 6, 9):
        write(tmp_path, step)
    assert [p.name for p in ckpt.checkpoints(tmp_path)] == ["step-00000006", "step-00000009"]
    latest = ckpt.latest(tmp_path)
    assert latest is not None
    saved = ckpt.read_checkpoint(latest)
    assert torch.equal(saved["model"]["w"], torch.full((2, 2), 9.0))
    assert saved["state"]["train"]["step"] == 9
    assert saved["optimizer"] == {"optimizer": {"step": 9}}


def test_a_half_written_checkpoint_is_not_seen(tmp_path: Path) -> None:
    write(tmp_path, 4)
    partial = tmp_path / ".tmp-step-00000008-99999"  # what kill -9 leaves behind
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\0" * 10)
    no_state = tmp_path / "step-00000012"  # a folder without its state file
    no_state.mkdir()
    assert ckpt.latest(tmp_path) == tmp_path / "step-00000004"
    write(tmp_path, 5)
    assert not partial.exists()  # cleaned by the next prune


def test_best_folders_referenced_by_kept_checkpoints_survive(tmp_path: Path) -> None:
    ckpt.write_best(tmp_path, 2, {"w": torch.zeros(1)}, {"metric": 0.5})
    write(tmp_path, 2, best_step=2)
    ckpt.write_best(tmp_path, 4, {"w": torch.ones(1)}, {"metric": 0.6})
    write(tmp_path, 4, best_step=4)
    ckpt.write_best(tmp_path, 6, {"w": torch.full((1,), 2.0)}, {"metric": 0.7})
    write(tmp_path, 6, best_step=6)  # keeps step 4 and 6: best-2 is dropped
    names = sorted(p.name for p in tmp_path.glob("best-*"))
    assert names == ["best-00000004", "best-00000006"]
    best = ckpt.read_best(tmp_path, 4)
    assert best is not None and torch.equal(best["w"], torch.ones(1))
    assert json.loads((tmp_path / "best-00000006" / "best.json").read_text())["metric"] == 0.7


def test_rng_state_restores_every_generator() -> None:
    state = ckpt.rng_state()
    first = (
        random.random(),
        np.random.rand(),
        torch.rand(3),
        torch.nn.functional.dropout(torch.ones(8), 0.5),
    )
    ckpt.set_rng_state(state)
    second = (
        random.random(),
        np.random.rand(),
        torch.rand(3),
        torch.nn.functional.dropout(torch.ones(8), 0.5),
    )
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2]) and torch.equal(first[3], second[3])
