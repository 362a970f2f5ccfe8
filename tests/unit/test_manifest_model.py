"""manifest.json is written from a typed model: unknown keys and wrong types are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from test_report_fixtures import make_plan

from etbuilder.package.manifest import Manifest, OnnxExport, ServedModel, base_manifest


def test_base_manifest_round_trips_and_keeps_the_keys_the_app_reads(tmp_path: Path) -> None:
    manifest = base_manifest(make_plan("classification"), tmp_path, pad_id=0)
    manifest.write(tmp_path / "manifest.json")
    data = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert Manifest.model_validate(data) == manifest
    assert data["task"]["output"] == "label" and data["inputs"]["kind"] == "text"
    assert "label_column" in data["task"]  # the app indexes it, even when None
    assert "threshold" not in data["task"]["options"]  # a classifier has none
    assert "quality" not in data and "onnx" not in data  # unset sections stay out


def test_a_wrong_field_is_refused_where_it_is_set(tmp_path: Path) -> None:
    manifest = base_manifest(make_plan("multilabel"), tmp_path, pad_id=0)
    with pytest.raises(ValidationError):
        manifest.model = ServedModel(served="x.onnx", precision="fp16", reason="")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Manifest.model_validate(manifest.as_dict() | {"surprise": 1})
    manifest.onnx = OnnxExport(
        inputs=["input_ids"], output="logits", opset=20,
        parity_max_abs_diff_vs_pytorch=1e-6, attention_fusion={"blocks": 0},
    )  # fmt: skip
    assert manifest.as_dict()["onnx"]["output"] == "logits"
