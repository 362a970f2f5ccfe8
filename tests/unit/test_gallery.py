"""The gallery: templates are listed with what they do and what their recorded run measured,
and `etb init --template` copies one into a folder from which it compiles as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etbuilder.cli import main as cli
from etbuilder.errors import TemplateError
from etbuilder.gallery import (
    TEMPLATES_VARIABLE,
    copy_template,
    find_template,
    gallery_root,
    list_templates,
    run_commands,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_gallery_is_found_beside_the_package_and_lists_every_template() -> None:
    assert gallery_root() == ROOT / "templates"
    names = [t.name for t in list_templates()]
    assert names == sorted(p.parent.name for p in (ROOT / "templates").glob("*/spec.yaml"))
    spam = find_template("sms-spam")
    assert (spam.task, spam.strategy) == ("classification", "finetune")
    assert spam.purpose.startswith("Flag spam SMS")
    triage = find_template("banking-triage")
    assert triage.strategy == "dapt + finetune"


def test_measured_is_the_recorded_runs_test_metric() -> None:
    for template in list_templates():
        recorded = template.folder / "metrics.json"
        if not recorded.is_file():
            assert template.measured is None
            continue
        metrics = json.loads(recorded.read_text(encoding="utf-8"))
        assert template.measured is not None
        assert template.measured.metric == metrics["selection_metric"]
        assert template.measured.value == metrics["test"][metrics["selection_metric"]]


def test_an_unknown_name_suggests_the_close_one() -> None:
    with pytest.raises(TemplateError, match="did you mean 'sms-spam'"):
        find_template("sms-spamm")
    with pytest.raises(TemplateError, match=r"no template called .\.\./sms-spam."):
        find_template("../sms-spam")


def test_a_missing_gallery_folder_says_how_to_fix_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(TEMPLATES_VARIABLE, str(tmp_path / "nowhere"))
    with pytest.raises(TemplateError, match="not a folder"):
        gallery_root()


def test_copy_brings_the_data_and_rewrites_paths(tmp_path: Path, monkeypatch) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    monkeypatch.chdir(tmp_path)
    copied = copy_template("news-topics", Path("project"))
    folder = tmp_path / "project"
    assert copied.folder.resolve() == folder
    assert (folder / "data" / "train.tsv").read_bytes() == (
        ROOT / "templates" / "news-topics" / "data" / "train.tsv"
    ).read_bytes()
    first = (folder / "spec.yaml").read_text(encoding="utf-8").splitlines()[0]
    schema = Path(first.partition("$schema=")[2])
    assert schema.is_absolute() and schema.is_file()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "etb run project/spec.yaml" in readme and "templates/news-topics/" not in readme
    plan = compile_spec(load_spec(folder / "spec.yaml"), spec_path=folder / "spec.yaml")
    assert {p.name: p.rows for p in plan.data.profiles} == {
        "train": 48,
        "validation": 16,
        "test": 24,
    }
    assert all(Path(s.path).resolve().parent == folder / "data" for s in plan.data.sources)
    assert run_commands(copied, "project") == ["etb run project/spec.yaml"]


def test_copy_inside_the_repository_keeps_a_relative_schema_path(tmp_path: Path) -> None:
    inside = ROOT / "runs" / "test-gallery" / tmp_path.name
    try:
        copy_template("sms-spam", inside)
        first = (inside / "spec.yaml").read_text(encoding="utf-8").splitlines()[0]
        schema = first.partition("$schema=")[2]
        assert not Path(schema).is_absolute()
        assert (inside / schema).resolve() == ROOT / "schemas" / "etb-spec.schema.json"
    finally:
        import shutil

        shutil.rmtree(inside, ignore_errors=True)


def test_a_distilling_template_runs_with_one_command(tmp_path: Path) -> None:
    """Its spec names the teacher's spec, which its own run trains first."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    copied = copy_template("spam-distilled", tmp_path / "d")
    assert run_commands(copied, "d") == ["etb run d/spec.yaml"]
    spec = tmp_path / "d" / "spec.yaml"
    plan = compile_spec(load_spec(spec), spec_path=spec)
    assert plan.strategy.teacher == str(tmp_path / "d" / "teacher.yaml")
    assert plan.strategy.teacher_kind == "spec"
    assert plan.estimates.seconds_teacher > 0
    assert plan.strategy.actions[0].startswith(f"train the teacher from spec {tmp_path}/d/")


def test_a_searching_template_lists_the_strategies_it_tries_and_its_search_time() -> None:
    automl = find_template("topup-automl")
    assert automl.strategy == "tune: features | lora | finetune"
    study = json.loads((automl.folder / "study.json").read_text(encoding="utf-8"))
    assert automl.measured is not None and automl.measured.search_seconds == study["wall_s"]
    assert find_template("sms-spam").measured.search_seconds is None  # type: ignore[union-attr]


def test_a_folder_in_the_way_is_refused_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("my notes", encoding="utf-8")
    (target / "spec.yaml").write_text("old", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"not empty.*--force"):
        copy_template("sms-spam", target)
    assert (target / "spec.yaml").read_text(encoding="utf-8") == "old"
    copy_template("sms-spam", target, force=True)
    assert (target / "notes.txt").read_text(encoding="utf-8") == "my notes"
    assert "name: sms-spam" in (target / "spec.yaml").read_text(encoding="utf-8")
    with pytest.raises(TemplateError, match="its own folder"):
        copy_template("sms-spam", ROOT / "templates" / "sms-spam" / "copy")


def test_cli_lists_and_inits(tmp_path: Path, capsys) -> None:
    assert cli.main(["templates", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == [t.name for t in list_templates()]
    assert cli.main(["init", str(tmp_path / "x")]) == 2
    assert "--template NAME" in capsys.readouterr().err
    assert cli.main(["init", "-t", "sms-spam", "--data", "x.csv", str(tmp_path / "y")]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main(["init", "--template", "feedback-tags", str(tmp_path / "x")]) == 0
    assert "etb run" in capsys.readouterr().out
    assert (tmp_path / "x" / "data" / "train.csv").is_file()
    assert cli.main(["init", "--template", "feedback-tags", str(tmp_path / "x")]) == 2
    assert "--force" in capsys.readouterr().err
