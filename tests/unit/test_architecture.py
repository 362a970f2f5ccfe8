"""The import contracts in pyproject.toml hold, and they would catch an upward import.

`make lint` runs `lint-imports`; these tests run it too, so `make test` (and CI) keep the layers:
cli -> package -> runtime -> report -> compiler -> (data | zoo | hardware | gallery) -> plan ->
spec -> (errors | atomic), the stand-alone app template, and the torch-free floors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT / "etbuilder", tree / "etbuilder", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


pytestmark = pytest.mark.skipif(not LINT.is_file(), reason="import-linter is not installed")


def test_the_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "upward", "broken"),
    [
        (
            "etbuilder/spec/_base.py",
            "import etbuilder.compiler.pipeline",
            "etbuilder.spec is not allowed to import etbuilder.compiler",
        ),
        (
            "etbuilder/data/table.py",
            "import etbuilder.zoo",
            "etbuilder.data is not allowed to import etbuilder.zoo",
        ),
        ("etbuilder/report/metrics.py", "import torch", "reports stay light BROKEN"),
        (
            "etbuilder/package/app_template/inference.py",
            "import etbuilder.plan",
            "(they ship without etbuilder) BROKEN",
        ),
    ],
    ids=["spec-imports-compiler", "data-imports-zoo", "report-imports-torch", "app-imports-plan"],
)
def test_an_upward_import_breaks_a_contract(
    tmp_path: Path, module: str, upward: str, broken: str
) -> None:
    tree = _copy(tmp_path)
    target = tree / module
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n{upward}  # noqa\n", encoding="utf-8"
    )
    done = _lint(tree)
    assert done.returncode == 1, done.stdout
    assert broken in " ".join(done.stdout.split()), done.stdout
