"""`etb schema`: prints or writes the JSON Schema and the markdown reference."""

from __future__ import annotations

import json
from pathlib import Path

from etbuilder.cli.main import main
from etbuilder.spec.reference import render_json_schema, render_reference


def test_prints_the_schema(capsys) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == render_json_schema()
    assert json.loads(out)["title"] == "etbuilder spec"


def test_writes_schema_and_reference(tmp_path: Path, capsys) -> None:
    schema, reference = tmp_path / "out/schema.json", tmp_path / "docs/spec.md"
    assert main(["schema", "--output", str(schema), "--reference", str(reference)]) == 0
    assert schema.read_text(encoding="utf-8") == render_json_schema()
    assert reference.read_text(encoding="utf-8") == render_reference()
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["docs", "out", "schema.json", "spec.md"]
