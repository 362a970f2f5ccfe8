"""Example specs used by the tests: `valid/` holds one per task and strategy."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""
VALID_SPECS = sorted((ROOT / "tests" / "specs" / "valid").glob("*.yaml"))
"""Valid example specs: every task and every strategy (data paths point at ../shared/data)."""
