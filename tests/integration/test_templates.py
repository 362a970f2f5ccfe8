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


def test_the_gallery_covers_every_task_and_strategy() -> None:
    assert len(TEMPLATES) >= 10, [p.parent.name for p in TEMPLATES]
    specs = [_raw(p) for p in TEMPLATES]
    tasks = {s["task"]["type"] for s in specs}
    strategies = {s.get("strategy", {}).get("type", "finetune") for s in specs}
    strategies |= {s["strategy"]["then"]["type"] for s in specs if "then" in s.get("strategy", {})}
    assert set(TASKS) <= tasks, set(TASKS) - tasks
    assert set(STRATEGIES) <= strategies, set(STRATEGIES) - strategies
    assert any("tune" in s for s in specs), "no template searches with tune:"


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
    for path in specs:  # a distilling template's own plan compiles its teacher spec too
        spec = load_spec(path)
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
    if "tune" in _raw(spec_path):  # a search: its best trial's run, and the study's figures
        study = json.loads((folder / "study.json").read_text(encoding="utf-8"))
        summary = study["summary"]
        best_test = summary["best_test"]
        assert metrics["test"][metric] == best_test[metric], "metrics.json: not the best trial's"
        search = _readme_value(readme, "search")
        repeated = summary.get("repeated", 0)  # skipped as repeats, as `etb tune` prints them
        assert search.startswith(
            f"{study['wall_s']:.0f} s: {summary['trials']} trials ({summary['complete']} "
            f"complete, {summary['pruned']} pruned, {summary['skipped'] - repeated} did not "
            f"fit, {summary['failed']} failed" + (f", {repeated} repeated)" if repeated else ")")
        ), search
        best = _readme_value(readme, f"best trial (validation {metric})")
        assert best.startswith(f"trial {summary['best_number']}: {summary['best_value']:.3f}")


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


FULL_TRAINING_FILE = {"support-intents", "topup-automl"}
"""Templates whose label set only appears whole in the whole training file (77 intents; 10
intents split three ways from one file)."""
TINY_SEARCH = ["tune.trials=2"]
"""A template with `tune:` runs a two-trial study in CI."""


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
    """As a user runs it: `etb init --template` copies it, `etb run` on the copy trains (a
    distilling template its teacher first; a searching one a short study), evaluates, reports
    and packages an app, which answers."""
    from etbuilder.cli.main import main
    from etbuilder.gallery import copy_template
    from etbuilder.package.predict import predict_with_app

    copy = tmp_path / "copy"
    copy_template(spec_path.parent.name, copy)
    overrides = _tiny_overrides(spec_path, tiny_backbone)
    teacher = copy / "teacher.yaml"
    if teacher.is_file():  # what `--set` does to the student, done to its teacher spec
        raw = _raw(teacher)
        raw["backbone"]["model"] = str(tiny_backbone)
        raw["train"]["epochs"] = 1
        raw["data"]["max_train_rows"] = 64
        teacher.write_text(yaml.safe_dump(raw), encoding="utf-8")
    searches = "tune" in _raw(spec_path)
    if searches:
        overrides += TINY_SEARCH
    out = tmp_path / "run"
    command = ["run", str(copy / "spec.yaml"), "--output", str(out), "--quiet"]
    assert main([*command, *(a for o in overrides for a in ("--set", o))]) == 0
    if searches:  # the study folder: its best trial's run folder and the packaged app
        study = json.loads((out / "study.json").read_text(encoding="utf-8"))
        assert study["summary"]["complete"] >= 1
        run_dir, app = Path(study["summary"]["best_run"]), out / "app"
    else:
        run_dir, app = out, out / "app"
    assert (run_dir / "report.md").is_file()
    if teacher.is_file():
        assert (run_dir / "teacher" / "metrics.json").is_file()
    manifest = json.loads((app / "manifest.json").read_text(encoding="utf-8"))
    request = json.loads((app / "examples" / "request.json").read_text(encoding="utf-8"))
    answers = predict_with_app(app, request["inputs"])
    assert len(answers) == len(request["inputs"])
    assert all(a["label"] in manifest["task"]["labels"] for a in answers if "label" in a)
    assert (app.parent / f"{app.name}.tar.gz").is_file()
