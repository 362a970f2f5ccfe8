"""Which rank stopped answering: each process notes the step it starts in the job's store.

A hung rank (alive, but no longer taking part) makes the others wait in a collective until the
plan's `collective_timeout_s` ends it. The process that times out then reads every rank's last
noted step from the process group's key-value store (torchrun's TCPStore, reachable while the
collectives are not) and names the ranks behind it. One small `set` per optimizer step, only
when there is more than one process.

`ETB_TEST_HANG_RANK=R:S` is a test hook: rank R stops answering (sleeps) before step S. Unset
(always, outside the tests), it does nothing.
"""

from __future__ import annotations

import os
import time
from typing import Any

HANG_ENV = "ETB_TEST_HANG_RANK"
"""Test hook only: `RANK:STEP` makes that rank sleep forever before that optimizer step."""

KEY = "etb/step/{rank}"

_noted: dict[str, int] = {}
"""This process's rank, world size and last noted step (for the message after a timeout)."""


def _store() -> Any | None:
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        return None
    from torch.distributed.distributed_c10d import _get_default_store

    try:
        return _get_default_store()
    except (RuntimeError, ValueError):
        return None


def note_step(rank: int, world: int, step: int) -> None:
    """Record that `rank` starts optimizer step `step` (no-op in one process)."""
    if world < 2:
        return
    _hang_if_asked(rank, step)
    store = _store()
    if store is not None:
        store.set(KEY.format(rank=rank), str(step))
        _noted.update(rank=rank, world=world, step=step)


def _hang_if_asked(rank: int, step: int) -> None:
    asked = os.environ.get(HANG_ENV, "")
    if asked and asked == f"{rank}:{step}":
        while True:  # a hung rank: alive, silent
            time.sleep(3600)


def behind() -> str | None:
    """'rank 1 (last step started: 2)' for every rank behind this one, or None if unknown."""
    if not _noted:
        return None
    store = _store()
    if store is None:
        return None
    mine = _noted["step"]
    late = []
    for rank in range(_noted["world"]):
        key = KEY.format(rank=rank)
        try:
            step = int(store.get(key)) if store.check([key]) else None
        except RuntimeError:  # the store went away too
            return None
        if step is None or step < mine:
            late.append(f"rank {rank} (last step started: {step if step is not None else '-'})")
    return ", ".join(late) if late else None


def noted_step() -> int | None:
    """The step this process noted last."""
    return _noted.get("step")
