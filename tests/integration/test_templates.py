"""The gallery is a test fixture: every template validates, compiles, and a short run of it
trains, evaluates and packages an app that answers (with the real offline backbone)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TEMPLATES = sorted(Path(__file__).resolve().parents[2].glob("templates/*/spec.yaml"))


def test_there_are_templates() -> None:
    assert TEMPLATES, "the gallery is empty"


@pytest.mark.parametrize("spec_path", TEMPLATES, ids=lambda p: p.parent.name)
def test_template_is_documented_validates_and_compiles(spec_path: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    header = spec_path.read_text(encoding="utf-8").splitlines()[:12]
    assert any(line.startswith("# Scenario") for line in header)
    assert any("etb run" in line for line in header)
    readme = (spec_path.parent / "README.md").read_text(encoding="utf-8")
    assert "Licence" in readme or "License" in readme
    spec = load_spec(spec_path)
    assert spec.name == spec_path.parent.name
    plan = compile_spec(spec, spec_path=spec_path)
    assert not [w for w in plan.warnings if w.code in ("train_test_overlap", "unseen_labels")]


@pytest.mark.slow
@pytest.mark.parametrize("spec_path", TEMPLATES, ids=lambda p: p.parent.name)
def test_short_run_of_template_ends_in_an_app_that_answers(spec_path: Path, tmp_path: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.package.builder import build_app
    from etbuilder.package.predict import predict_with_app
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec

    spec = load_spec(spec_path, overrides=["data.max_train_rows=96", "train.epochs=1"])
    plan = compile_spec(spec, spec_path=spec_path)
    result = run_plan(plan, tmp_path / "run", quiet=True)
    assert result.state == "finished"
    assert (tmp_path / "run" / "report.md").is_file()
    app = build_app(result.run_dir)
    manifest = json.loads((app / "manifest.json").read_text(encoding="utf-8"))
    request = json.loads((app / "examples" / "request.json").read_text(encoding="utf-8"))
    answers = predict_with_app(app, request["inputs"])
    assert len(answers) == len(request["inputs"])
    assert all(a["label"] in manifest["task"]["labels"] for a in answers if "label" in a)
    assert (tmp_path / "run" / "app.tar.gz").is_file()
