"""`etb plan` refuses the data a run would refuse or fail on, after hours: a table of datasets,
each with the exact error (file, line, message) and a spec that would accept it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from test_compiler_fixtures import (
    CLASSIFICATION_SPEC,
    compile_project,
    isolated_cache,  # noqa: F401
    sentence,
)

from etbuilder.cli.main import main
from etbuilder.errors import DataError

pytestmark = pytest.mark.usefixtures("isolated_cache")

FILES_SPEC = CLASSIFICATION_SPEC.replace(
    "  train: train.csv\n", "  train: train.csv\n  validation: dev.csv\n  test: test.csv\n"
)


def _csv(labels: list[str], offset: int = 0) -> str:
    return "text,label\n" + "".join(f"{sentence(i + offset)},{x}\n" for i, x in enumerate(labels))


BALANCED = ["neg", "pos"] * 50


@dataclass(frozen=True)
class Case:
    id: str
    spec: str
    files: dict[str, str]
    file: str
    line: int | None
    message: str
    fixed_by: str
    """A spec line replacing `  label: label\\n` that makes the same data acceptable, or ""."""


CASES = [
    Case(
        "single-class",
        CLASSIFICATION_SPEC,
        {"train.csv": _csv(["ham"] * 100)},
        "train.csv",
        None,
        "the training data has only the class 'ham' (80 rows): a classifier needs at least two",
        "",
    ),
    Case(
        "single-class-with-files",
        FILES_SPEC,
        {
            "train.csv": _csv(["ham"] * 60),
            "dev.csv": _csv(["ham"] * 10, 500),
            "test.csv": _csv(["ham"] * 10, 900),
        },
        "train.csv",
        None,
        "the training data has only the class 'ham' (60 rows)",
        "",
    ),
    Case(
        "rare-class-stratified",
        CLASSIFICATION_SPEC,
        {"train.csv": _csv([*BALANCED, "odd"])},
        "train.csv",
        102,
        "1 class(es) have a single example, too few for a stratified split into train and "
        "held-out data: 'odd'",
        "  label: label\n  labels: [neg, pos, odd]\ndata_split_unstratified: true\n",
    ),
    Case(
        "unseen-test-label",
        FILES_SPEC,
        {
            "train.csv": _csv(BALANCED),
            "dev.csv": _csv(["neg", "pos"] * 5, 500),
            "test.csv": _csv(["neg", "pos", "neg", "maybe"], 900),
        },
        "test.csv",
        5,
        "test label 'maybe' never occurs in the training data",
        "  label: label\n  labels: [neg, pos, maybe]\n",
    ),
    Case(
        "unseen-validation-label",
        FILES_SPEC,
        {
            "train.csv": _csv(BALANCED),
            "dev.csv": _csv(["surprise", "pos"], 500),
            "test.csv": _csv(["neg", "pos"] * 5, 900),
        },
        "dev.csv",
        2,
        "validation label 'surprise' never occurs in the training data",
        "  label: label\n  labels: [neg, pos, surprise]\n",
    ),
]


def _spec(case: Case, fixed: bool) -> str:
    if not fixed:
        return case.spec
    spec = case.spec.replace("  label: label\n", case.fixed_by)
    if "data_split_unstratified: true\n" in spec:
        spec = spec.replace("data_split_unstratified: true\n", "")
        spec = spec.replace(
            "  train: train.csv\n", "  train: train.csv\n  split: {stratify: false}\n"
        )
    return spec


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_refuses_data_the_run_would_fail_on(case: Case, tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        compile_project(tmp_path, case.spec, case.files)
    error = raised.value
    assert error.file is not None and Path(error.file).name == case.file
    assert error.row == case.line
    assert case.message in error.message, error.render()
    assert error.column == "label"


@pytest.mark.parametrize("case", [c for c in CASES if c.fixed_by], ids=lambda c: c.id)
def test_the_spec_can_say_how_to_treat_it(case: Case, tmp_path: Path) -> None:
    plan = compile_project(tmp_path, _spec(case, fixed=True), case.files)
    assert plan.task.labels


def test_plan_cli_exits_2_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.csv").write_text(_csv(["ham"] * 100), encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(CLASSIFICATION_SPEC, encoding="utf-8")
    assert main(["plan", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "only the class 'ham'" in err and "internal error" not in err
