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
