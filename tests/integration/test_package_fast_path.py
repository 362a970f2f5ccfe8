"""What keeps packaging quick: the run's stored export (packaging again skips PyTorch), gate
requests run side by side with the same answers as one at a time, a line per step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from etbuilder.package import build_app, from_texts
from etbuilder.package.quality import task_outputs
from tests.fixtures.tiny_run import cached_app, make_tiny_run

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["x", "the room was clean and the staff were kind", "café naïve 😀 " * 20, "Bob"] * 5


@pytest.fixture(scope="session")
def apps_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny-apps"


def _steps(lines: list[str]) -> list[str]:
    return [line.split()[1] for line in lines if line.startswith("package: ")]


def test_packaging_again_reuses_the_stored_export_without_torch(tmp_path: Path) -> None:
    run = make_tiny_run(tmp_path / "tiny", "classification")
    lines: list[str] = []
    first = build_app(run, out=tmp_path / "first", progress=lines.append)
    assert _steps(lines)[:2] == ["load_model", "export"] and "archive" in _steps(lines)
    assert (run / "onnx-export" / "model.onnx").is_file()

    script = (
        "import sys; from pathlib import Path; from etbuilder.package import build_app; "
        f"build_app(Path({str(run)!r}), out=Path({str(tmp_path / 'second')!r}), progress=print); "
        "print('torch imported:', 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    out = done.stdout.splitlines()
    assert "export_stored" in _steps(out) and "load_model" not in _steps(out)
    assert out[-1] == "torch imported: False"
    one, two = (
        json.loads((tmp_path / a / "manifest.json").read_text()) for a in ("first", "second")
    )
    assert one["onnx"] == two["onnx"] and one["model"]["served"] == two["model"]["served"]
    assert first.name == "first"

    # Another model (retrained, edited) is a different key: exported again.
    config = run / "model" / "config.json"
    config.write_text(config.read_text() + "\n")
    lines.clear()
    build_app(run, out=tmp_path / "third", progress=lines.append)
    assert _steps(lines)[:2] == ["load_model", "export"]


@pytest.mark.parametrize("batch", [None, 1, 4])
def test_gate_requests_side_by_side_answer_as_one_at_a_time(
    apps_base: Path, batch: int | None
) -> None:
    from etbuilder.package.app_template.inference import Predictor

    app = cached_app(apps_base, "classification")
    served = Predictor(app, threads=1, spin=False)
    evalset = from_texts(TEXTS)
    assert task_outputs(served, evalset, batch, workers=3) == task_outputs(served, evalset, batch)
