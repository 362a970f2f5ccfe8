"""The gallery is a test fixture: every template is documented, validates and compiles; a short
run of each with a tiny model trains, evaluates and packages an app that answers; and each
README quotes the metrics of the recorded run beside it (so a stale figure fails)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(ROOT.glob("templates/*/spec.yaml"))
TASKS = ("classification", "multilabel", "pair_classification", "regression", "ner", "embedding")
STRATEGIES = ("finetune", "features", "freeze", "lora", "distill", "dapt")
HEADER = ("# Scenario", "# The model decides", "# Why", "# Run it", "# Adapt it", "# Data")


def _raw(spec_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    return loaded


def _teacher_override(spec_path: Path, teacher: Path | str) -> list[str]:
    """A distilling template names the teacher's run folder, trained first from teacher.yaml."""
    if _raw(spec_path).get("strategy", {}).get("type") == "distill":
        return [f"strategy.teacher={teacher}"]
    return []


def test_the_gallery_covers_every_task_and_strategy() -> None:
    assert len(TEMPLATES) >= 10, [p.parent.name for p in TEMPLATES]
    specs = [_raw(p) for p in TEMPLATES]
    tasks = {s["task"]["type"] for s in specs}
    strategies = {s.get("strategy", {}).get("type", "finetune") for s in specs}
    strategies |= {s["strategy"]["then"]["type"] for s in specs if "then" in s.get("strategy", {})}
    assert set(TASKS) <= tasks, set(TASKS) - tasks
    assert set(STRATEGIES) <= strategies, set(STRATEGIES) - strategies


def test_the_gallery_stays_small() -> None:
    from etbuilder.gallery import NOT_COPIED  # run outputs (a trained teacher) are not the gallery

    files = [p for p in (ROOT / "templates").rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files if not NOT_COPIED & set(p.parts))
    assert size < 10 * 2**20, f"templates/ holds {size / 2**20:.1f} MiB"


@pytest.mark.parametrize("spec_path", TEMPLATES, ids=lambda p: p.parent.name)
def test_template_is_documented_validates_and_compiles(spec_path: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    lines = spec_path.read_text(encoding="utf-8").splitlines()
    schema = lines[0].partition("$schema=")[2]
    assert lines[0].startswith("# yaml-language-server: $schema="), lines[0]
    assert (spec_path.parent / schema).resolve().is_file(), schema
    header = [line for line in lines if line.startswith("#")]
    for mark in HEADER:
        assert any(line.startswith(mark) for line in header), f"the header lacks {mark!r}"
    assert any(f"etb run templates/{spec_path.parent.name}/spec.yaml" in x for x in header)
    readme = (spec_path.parent / "README.md").read_text(encoding="utf-8")
    assert "Licence" in readme
    specs = [spec_path]
    teacher = spec_path.parent / "teacher.yaml"
    if teacher.is_file():
        specs.insert(0, teacher)
    for path in specs:
        spec = load_spec(path, overrides=_teacher_override(path, teacher))
        if path == spec_path:
            assert spec.name == spec_path.parent.name
        plan = compile_spec(spec, spec_path=path)
        codes = {w.code for w in plan.warnings}
        assert not codes & {"train_test_overlap", "unseen_labels", "duplicate_rows"}, codes


def _readme_value(readme: str, label: str) -> str:
    found = re.search(rf"^\| {re.escape(label)} \| ([^|]+)\|", readme, re.MULTILINE)
    assert found, f"README.md has no table row `| {label} | ... |`"
    return found.group(1).strip()


@pytest.mark.parametrize("spec_path", TEMPLATES, ids=lambda p: p.parent.name)
def test_readme_quotes_the_recorded_run(spec_path: Path) -> None:
    folder = spec_path.parent
    recorded = folder / "metrics.json"
    assert recorded.is_file(), f"{folder.name}: no metrics.json of a recorded run"
    metrics = json.loads(recorded.read_text(encoding="utf-8"))
    metric = metrics["selection_metric"]
    spec_metric = _raw(spec_path)["task"].get("metric")
    assert spec_metric in (None, metric), (spec_metric, metric)
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert f"etb run templates/{folder.name}/spec.yaml" in readme
    quoted = _readme_value(readme, f"test {metric} (the spec's metric)")
    assert quoted == f"{metrics['test'][metric]:.3f}", (quoted, metrics["test"][metric])
    assert _readme_value(readme, "training time").startswith(
        f"{metrics['train_seconds']:.1f} s ({metrics['steps']} steps"
    )
    assert "backbone minilm-l6" in readme


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


FULL_TRAINING_FILE = {"support-intents"}
"""Templates whose label set only appears whole in the whole training file (77 intents)."""


def _tiny_overrides(spec_path: Path, backbone: Path) -> list[str]:
    overrides = [f"backbone.model={backbone}", "train.epochs=1"]
    if spec_path.parent.name not in FULL_TRAINING_FILE:
        overrides.append("data.max_train_rows=64")
    strategy = _raw(spec_path).get("strategy", {})
    if strategy.get("type") == "dapt":
        overrides.append("strategy.steps=2")
    if strategy.get("type") == "distill":
        overrides.append("strategy.student_layers=1")
    return overrides


@pytest.mark.parametrize("spec_path", TEMPLATES, ids=lambda p: p.parent.name)
def test_short_run_of_template_ends_in_an_app_that_answers(
    spec_path: Path, tmp_path: Path, tiny_backbone: Path
) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.package.builder import build_app
    from etbuilder.package.predict import predict_with_app
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec

    teacher = spec_path.parent / "teacher.yaml"
    if teacher.is_file():
        spec = load_spec(teacher, overrides=_tiny_overrides(teacher, tiny_backbone))
        done = run_plan(compile_spec(spec, spec_path=teacher), tmp_path / "teacher", quiet=True)
        assert done.state == "finished"
    overrides = _tiny_overrides(spec_path, tiny_backbone)
    spec = load_spec(
        spec_path, overrides=overrides + _teacher_override(spec_path, tmp_path / "teacher")
    )
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
