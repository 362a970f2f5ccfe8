"""The generated JSON Schema and reference: committed copies are fresh; editors agree with us."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from etbuilder.spec import _walk
from etbuilder.spec._yaml import parse_document
from etbuilder.spec.reference import json_schema, render_json_schema, render_reference
from etbuilder.spec.spec import Spec
from etbuilder.spec.strategy import Strategy
from etbuilder.spec.task import Task
from tests.specs import ROOT, VALID_SPECS

SCHEMA_FILE = ROOT / "schemas" / "etb-spec.schema.json"
REFERENCE_FILE = ROOT / "docs" / "spec.md"
REGENERATE = "regenerate with: etb schema --output schemas/etb-spec.schema.json "
REGENERATE += "--reference docs/spec.md"


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _as_editor_reads(path: Path) -> Any:
    # YAML 1.2 reading, as yaml-language-server does (5e-5 is a number).
    return parse_document(path.read_text(encoding="utf-8"), str(path), env={}).data


def test_committed_schema_is_fresh() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_json_schema(), REGENERATE


def test_committed_reference_is_fresh() -> None:
    assert REFERENCE_FILE.read_text(encoding="utf-8") == render_reference(), REGENERATE


def test_schema_is_a_draft_2020_12_schema() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("etb-spec.schema.json")
    assert schema["title"] == "etbuilder spec"
    assert render_json_schema().endswith("}\n")
    assert render_json_schema().startswith('{\n  "$defs": {\n')


@pytest.mark.parametrize("path", VALID_SPECS, ids=[p.stem for p in VALID_SPECS])
def test_schema_accepts_every_valid_spec(path: Path) -> None:
    errors = [e.message for e in _validator().iter_errors(_as_editor_reads(path))]
    assert errors == []


MINIMAL: dict[str, Any] = {
    "name": "t",
    "data": {"train": "a.csv"},
    "task": {"type": "classification", "text": "t", "label": "l"},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(MINIMAL))
    *parents, last = path.split("/")
    node = spec
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return spec


@pytest.mark.parametrize(
    "instance",
    [
        _with("train/learnin_rate", 0.1),
        _with("nme", "x"),
        _with("train/epochs", "three"),
        _with("train/precision", "fp8"),
        _with("task/type", "clasification"),
        _with("strategy", "lora"),
        _with("strategy/type", "lorra"),
        _with("strategy", {"type": "finetune", "r": 8}),
        _with("backbone/max_length", 4),
        _with("deploy/formats", ["tf"]),
        _with("tune", {"space": {"train.epochs": {"loguniform": [1, 2]}}}),
        _with("data/train", 5),
        {"data": {"train": "a.csv"}, "task": MINIMAL["task"]},
        _with("etb", 2),
    ],
    ids=lambda instance: json.dumps(instance)[-60:],
)
def test_schema_rejects_structurally_broken_specs(instance: dict[str, Any]) -> None:
    assert list(_validator().iter_errors(instance)), instance


def _union_tags(schema: dict[str, Any], name: str) -> set[str]:
    union = schema["properties"][name]
    return set(union["discriminator"]["mapping"])


def test_enums_registries_and_schema_agree() -> None:
    schema = json_schema()
    assert _union_tags(schema, "task") == set(_walk.union_models(Task))
    assert _union_tags(schema, "strategy") == set(_walk.union_models(Strategy))


def test_reference_documents_every_field_of_every_model() -> None:
    reference = render_reference()
    seen: set[type] = set()
    queue: list[type] = [Spec]
    while queue:
        model = queue.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field, annotation in _walk.model_field_types(model):
            assert f"| `{name}` |" in reference, (model.__name__, name)
            assert field.description, f"{model.__name__}.{name} has no docstring"
            queue += [_walk.info(m).base for m in _walk.members(annotation) if _walk.is_model(m)]
            for member in _walk.members(annotation):
                for arg in getattr(_walk.info(member).base, "__args__", ()):
                    queue += [_walk.info(m).base for m in _walk.members(arg) if _walk.is_model(m)]
    assert len(seen) >= 20
    assert "## `task` with `type: ner`" in reference
    assert "## `tune.space.<path>` with `log_uniform:`" in reference
