"""What a finished run hands back: its folder, its metrics and its state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    state: str


class RunStopped(Exception):
    """Raised by a run's `on_eval` observer to end it early (a pruned trial); the run folder's
    state becomes `stopped` with this message."""
