"""Task behaviour comes from one table: no task name is spelled out anywhere else in the package."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest

import etbuilder
from etbuilder.plan import tasks
from etbuilder.plan.tasks import TASK_RULES, TaskRule
from etbuilder.report import metrics, worst_errors
from etbuilder.spec.task import Task, TaskType

PACKAGE = Path(etbuilder.__file__).parent
ALLOWED = {PACKAGE / "plan" / "tasks.py", PACKAGE / "spec" / "task.py"}
"""The table, and the spec's own declaration of the task types."""
TASK_TYPES = set(typing.get_args(TaskType))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (of modules, classes, functions, fields)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                found.add(id(stmt.value))
    return found


def task_names_in(source: str) -> list[tuple[int, str]]:
    """(line, name) of every string constant equal to a task type, docstrings left out."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in TASK_TYPES
        and id(node) not in skip
    ]


def test_the_scan_finds_a_task_name_and_skips_docstrings() -> None:
    source = (
        '"""ner"""\ndef f(t):\n    """embedding"""\n'
        '    return t == "ner" or t in {"regression": 1}\n'
    )
    assert task_names_in(source) == [(4, "ner"), (4, "regression")]


def test_no_task_name_outside_the_task_table() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in ALLOWED
        for line, name in task_names_in(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "read the task table (etbuilder.plan.tasks) instead:\n" + "\n".join(
        offenders
    )


def test_the_table_covers_exactly_the_spec_task_types() -> None:
    union = typing.get_args(typing.get_args(Task)[0])
    declared = {typing.get_args(cls.model_fields["type"].annotation)[0] for cls in union}
    assert set(TASK_RULES) == declared == TASK_TYPES


def test_every_rule_uses_known_descriptors() -> None:
    hints = typing.get_type_hints(TaskRule)
    for name, rule in TASK_RULES.items():
        for field in dataclasses.fields(TaskRule):
            allowed = typing.get_args(hints[field.name])
            value = getattr(rule, field.name)
            if allowed and all(isinstance(a, str) for a in allowed):
                assert value in allowed, f"{name}.{field.name} = {value!r}"
        for plot in rule.plots:
            assert plot in typing.get_args(tasks.Plot), f"{name}: unknown plot {plot!r}"


def test_a_new_row_is_picked_up_by_the_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task the code never names works as soon as the table has its row."""
    row = dataclasses.replace(TASK_RULES["regression"])
    monkeypatch.setattr(tasks, "TASK_RULES", {**TASK_RULES, "rating": row})
    monkeypatch.setattr(worst_errors, "TASK_RULES", tasks.TASK_RULES)
    values = metrics.compute_metrics("rating", [1.0, 2.0, 3.0], [1.0, 2.5, 2.9], labels=[])
    assert values["spearman"] == pytest.approx(1.0) and values["n"] == 3
    rows = [{"text": "a", "label": 1.0, "prediction": 3.0}]
    assert any("3.000" in line for line in worst_errors.worst_errors("rating", rows))
    with pytest.raises(ValueError, match="unknown task type 'nothing'"):
        metrics.compute_metrics("nothing", [], [], labels=[])
