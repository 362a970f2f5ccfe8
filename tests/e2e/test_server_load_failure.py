"""An app whose model cannot be loaded stops with one line saying which file, why, and what to
do, not a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.tiny_run import cached_app


@pytest.fixture(scope="session")
def apps_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny-apps"


def _start(app: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "server.py", "--host", "127.0.0.1", "--port", "0"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_model_file_stops_the_server_with_one_line(
    apps_base: Path, tmp_path: Path, damage: str
) -> None:
    app = tmp_path / "app"
    shutil.copytree(cached_app(apps_base, "classification"), app)
    served = json.loads((app / "manifest.json").read_text())["model"]["served"]
    if damage == "corrupt":
        (app / served).write_bytes(b"this is not an ONNX graph\x00\xff" * 40)
    else:
        (app / served).unlink()
    done = _start(app)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    line = lines[0]
    assert line.startswith("error: cannot load ") and served in line
    assert "etb package" in line and "archive" in line


def test_a_broken_manifest_is_named(apps_base: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(cached_app(apps_base, "classification"), app)
    (app / "manifest.json").write_text("{not json", encoding="utf-8")
    done = _start(app)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "manifest.json" in lines[0] and "Traceback" not in done.stderr
