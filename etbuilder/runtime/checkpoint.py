"""Atomic checkpoints: everything a run needs to continue bit for bit, or nothing.

A checkpoint is a folder `checkpoints/step-<N>/` holding `model.safetensors`, `optimizer.pt`
(optimizer and scheduler state), `rng-<rank>.pt` (python, numpy, torch and accelerator RNG
states of each process) and `state.json` (counters, data order, history, best so far). It is
written under a temporary name, every file fsynced, then renamed into place: a folder named
`step-*` is always complete, also after `kill -9` in the middle of a write.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

PREFIX = "step-"
BEST = "best"
STATE_FILE = "state.json"


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def rng_state() -> dict[str, Any]:
    """Every RNG the training step draws from, for this process."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tmp_dir(root: Path, name: str) -> Path:
    return root / f".tmp-{name}-{os.getpid()}"


def _remove(folder: Path) -> None:
    """Delete `folder` by renaming it to a temporary name first, so that a kill in the middle
    leaves a `.tmp-*` folder (cleaned later), never a half-deleted `step-*` or `best-*`."""
    doomed = folder.with_name(f".tmp-deleting-{folder.name}-{os.getpid()}")
    try:
        os.replace(folder, doomed)
    except OSError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def clean_leftovers(root: Path) -> list[str]:
    """Delete what an interrupted write or delete left in `root`: temporary folders and
    checkpoint or best-model folders without their closing file. Returns the names removed."""
    if not root.is_dir():
        return []
    removed = []
    for entry in sorted(root.iterdir()):
        name = entry.name
        broken = (name.startswith(PREFIX) and not (entry / STATE_FILE).is_file()) or (
            name.startswith(f"{BEST}-") and not (entry / "best.json").is_file()
        )
        if entry.is_dir() and (name.startswith(".tmp-") or broken):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(name)
    return removed


def write_checkpoint(
    root: Path,
    step: int,
    *,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    state: dict[str, Any],
    rng: dict[int, dict[str, Any]],
    keep: int,
) -> Path:
    """Write checkpoint `step` atomically and prune to the `keep` most recent; returns it."""
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX}{step:08d}"
    final = root / name
    tmp = _tmp_dir(root, name)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = [tmp / "model.safetensors", tmp / "optimizer.pt"]
    save_file({k: v.contiguous() for k, v in model_state.items()}, str(files[0]))
    torch.save(optimizer_state, files[1])
    for rank, value in rng.items():
        files.append(tmp / f"rng-{rank}.pt")
        torch.save(value, files[-1])
    files.append(tmp / STATE_FILE)
    files[-1].write_text(json.dumps(state, indent=1, default=_plain) + "\n", encoding="utf-8")
    for path in files:
        _fsync_file(path)
    _fsync_dir(tmp)
    if final.exists():
        _remove(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    prune(root, keep)
    return final


def write_best(
    root: Path, step: int, model_state: dict[str, torch.Tensor], info: dict[str, Any]
) -> Path:
    """Write `checkpoints/best-<step>/` (weights of the best model so far) atomically.

    One folder per improvement, so a checkpoint always finds the best weights it refers to
    (`prune` drops those no kept checkpoint refers to).
    """
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    name = f"{BEST}-{step:08d}"
    tmp = _tmp_dir(root, name)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model_state.items()}, str(tmp / "model.safetensors"))
    (tmp / "best.json").write_text(json.dumps(info, indent=1, default=_plain) + "\n")
    for path in (tmp / "model.safetensors", tmp / "best.json"):
        _fsync_file(path)
    _fsync_dir(tmp)
    final = root / name
    if final.exists():
        _remove(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    return final


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def latest(root: Path) -> Path | None:
    """The most recent complete checkpoint."""
    found = checkpoints(root)
    return found[-1] if found else None


def _bests(root: Path) -> list[Path]:
    return sorted(p for p in root.glob(f"{BEST}-*") if p.is_dir() and (p / "best.json").is_file())


def prune(root: Path, keep: int) -> None:
    """Delete all but the `keep` most recent checkpoints, the best-model folders none of them
    (nor the newest) refers to, and leftover temporary folders of other processes."""
    for old in checkpoints(root)[: -max(1, keep)]:
        _remove(old)
    wanted = set()
    for kept in checkpoints(root):
        try:
            state = json.loads((kept / STATE_FILE).read_text(encoding="utf-8"))
            wanted.add(state["train"]["best_step"])
        except (OSError, ValueError, KeyError):
            continue
    bests = _bests(root)
    for folder in bests[:-1]:
        if int(folder.name.rsplit("-", 1)[1]) not in wanted:
            _remove(folder)
    for leftover in root.glob(".tmp-*"):
        if not leftover.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(leftover, ignore_errors=True)


def read_checkpoint(path: Path, rank: int = 0) -> dict[str, Any]:
    """Everything `write_checkpoint` wrote (model state, optimizer, rng of `rank`, state)."""
    from safetensors.torch import load_file

    rng_file = path / f"rng-{rank}.pt"
    if not rng_file.is_file():
        rng_file = path / "rng-0.pt"
    return {
        "model": load_file(str(path / "model.safetensors")),
        "optimizer": torch.load(path / "optimizer.pt", weights_only=False),
        "rng": torch.load(rng_file, weights_only=False),
        "state": json.loads((path / STATE_FILE).read_text(encoding="utf-8")),
    }


def read_best(root: Path, step: int | None = None) -> dict[str, torch.Tensor] | None:
    """The best model's weights saved at `step` (default: the newest), when there are any."""
    from safetensors.torch import load_file

    bests = _bests(root) if root.is_dir() else []
    if step is not None:
        bests = [p for p in bests if p.name == f"{BEST}-{step:08d}"]
    if not bests:
        return None
    return load_file(str(bests[-1] / "model.safetensors"))
