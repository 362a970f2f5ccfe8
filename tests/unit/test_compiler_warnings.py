"""Each warning of the plan, triggered by a crafted dataset (and absent on clean data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_compiler_fixtures import (
    CLASSIFICATION_SPEC,
    CPU,
    classification_csv,
    compile_project,
    isolated_cache,  # noqa: F401
    sentence,
)

from etbuilder.plan import Plan

pytestmark = pytest.mark.usefixtures("isolated_cache")

WITH_FILES = CLASSIFICATION_SPEC.replace(
    "  train: train.csv\n", "  train: train.csv\n  validation: dev.csv\n  test: test.csv\n"
)


def _csv(rows: list[tuple[str, str]]) -> str:
    return "text,label\n" + "".join(f"{t},{label}\n" for t, label in rows)


def _clean(n: int, offset: int = 0) -> list[tuple[str, str]]:
    return [(sentence(i + offset), "pos" if i % 2 else "neg") for i in range(n)]


def _codes(plan: Plan) -> list[str]:
    return [w.code for w in plan.warnings]


def _plan(tmp_path: Path, train: list[tuple[str, str]], test: list[tuple[str, str]] | None = None,
          spec: str = WITH_FILES, **kw: object) -> Plan:  # fmt: skip
    files: dict[str, str | bytes] = {
        "train.csv": _csv(train),
        "dev.csv": _csv(_clean(20, 5000)),
        "test.csv": _csv(test if test is not None else _clean(20, 9000)),
    }
    return compile_project(tmp_path, spec, files, **kw)  # type: ignore[arg-type]


def test_clean_data_has_no_warnings(tmp_path: Path) -> None:
    assert _plan(tmp_path, _clean(200)).warnings == []


def test_class_imbalance(tmp_path: Path) -> None:
    train = [(sentence(i), "pos" if i % 10 == 0 else "neg") for i in range(300)]
    plan = _plan(tmp_path, train)
    assert "class_imbalance" in _codes(plan)
    assert plan.task.metric == "f1_macro"
    assert "imbalanced" in next(d.reason for d in plan.decisions if d.key == "task.metric")


def test_truncation(tmp_path: Path) -> None:
    long = " ".join(["word"] * 300)
    train = _clean(190) + [(f"{long} {i}", "pos") for i in range(10)]
    spec = WITH_FILES + "backbone: {max_length: 64}\n"
    plan = _plan(tmp_path, train, spec=spec)
    assert "truncation" in _codes(plan)
    assert plan.data.profiles[0].lengths is not None
    assert plan.data.profiles[0].lengths.truncated == 10


def test_auto_max_length_covers_99_percent(tmp_path: Path) -> None:
    long = " ".join(["word"] * 300)
    train = _clean(198) + [(f"{long} {i}", "pos") for i in range(2)]
    plan = _plan(tmp_path, train)
    assert plan.task.max_length < 300  # the 1% longest do not set the length
    assert "truncation" not in _codes(plan)


@pytest.mark.parametrize("rows", [40, 150])
def test_tiny_dataset(tmp_path: Path, rows: int) -> None:
    train = (
        _clean(rows)
        if rows < 100
        else _clean(rows - 5) + [(sentence(1000 + i), "rare") for i in range(5)]
    )
    plan = _plan(tmp_path, train)
    assert "tiny_dataset" in _codes(plan)


def test_train_test_overlap(tmp_path: Path) -> None:
    train = _clean(200)
    test = [(f"  {t.upper()} ", label) for t, label in train[:3]] + _clean(17, 9000)
    plan = _plan(tmp_path, train, test)
    assert plan.data.train_test_overlap == 3
    assert "train_test_overlap" in _codes(plan)


def test_batch_too_large(tmp_path: Path) -> None:
    small = CPU.model_copy(update={"memory_bytes": 100 * 2**20})
    plan = _plan(tmp_path, _clean(200), hardware=small)
    assert "batch_too_large" in _codes(plan)
    assert plan.estimates.memory_bytes["total"] > small.memory_bytes


def test_duplicate_rows(tmp_path: Path) -> None:
    train = _clean(200) + _clean(4)
    plan = _plan(tmp_path, train)
    assert plan.data.profiles[0].duplicates == 4
    assert "duplicate_rows" in _codes(plan)


def test_empty_texts(tmp_path: Path) -> None:
    train = [*_clean(200), ("   ", "pos"), ("", "neg")]
    plan = _plan(tmp_path, train)
    assert plan.data.profiles[0].empty_texts == 2
    assert "empty_texts" in _codes(plan)


def test_unseen_labels(tmp_path: Path) -> None:
    test = [*_clean(18, 9000), (sentence(9500), "maybe"), (sentence(9501), "maybe")]
    plan = _plan(tmp_path, _clean(200), test)
    test_profile = plan.data.profiles[2]
    assert test_profile.unseen_labels == ["maybe"]
    assert "unseen_labels" in _codes(plan)


def test_slow_bf16(tmp_path: Path) -> None:
    spec = WITH_FILES + "train: {precision: bf16}\n"
    plan = _plan(tmp_path, _clean(200), spec=spec)
    assert "slow_bf16" in _codes(plan)
    assert plan.precision.used == "bf16"


def test_default_split_carves_and_profiles(tmp_path: Path) -> None:
    plan = compile_project(tmp_path, CLASSIFICATION_SPEC, {"train.csv": classification_csv()})
    assert plan.warnings == []
