"""Shared test fixtures: keep this small; put fixtures used by one module in that module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.specs import ROOT


@pytest.fixture
def repo_root() -> Path:
    """The repository root folder."""
    return ROOT


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write spec text to a file in a temporary folder and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def pytest_configure(config: pytest.Config) -> None:
    """Keep the suite's caches (tokens, features, recorded throughput) out of the user's
    ~/.cache/etbuilder: tiny test models would skew `etb plan`'s time estimates there."""
    import os
    import tempfile

    if "ETB_CACHE_DIR" not in os.environ:
        os.environ["ETB_CACHE_DIR"] = tempfile.mkdtemp(prefix="etb-test-cache-")
