"""What packaging does for speed: attention fused into one node per layer (and still equal to
PyTorch), the served graph saved pre-optimized and loaded as is, with the same answers as a
session that optimizes it at load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from etbuilder.package.fuse import fuse_attention
from tests.fixtures.tiny_run import TASKS, cached_app

TEXTS = ["x", "the room was clean and the staff were kind", "café naïve 😀 " * 20, "Bob"]


@pytest.fixture(scope="session")
def apps_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny-apps"


def _manifest(app: Path) -> dict:
    return json.loads((app / "manifest.json").read_text(encoding="utf-8"))


def _op_count(path: Path, op: str) -> int:
    import onnx

    return sum(n.op_type == op for n in onnx.load(str(path), load_external_data=False).graph.node)


@pytest.mark.parametrize("task", TASKS)
def test_every_attention_block_is_fused(apps_base: Path, task: str) -> None:
    app = cached_app(apps_base, task)
    layers = json.loads((app / "model" / "config.json").read_text())["num_hidden_layers"]
    fusion = _manifest(app)["onnx"]["attention_fusion"]
    assert fusion["blocks"] == layers, fusion
    assert fusion["parity"] <= 1e-4
    fp32 = app / "onnx/model.onnx"
    assert _op_count(fp32, "MultiHeadAttention") == layers
    assert _op_count(fp32, "Softmax") == 0  # the unfused pieces are gone


def test_a_graph_that_does_not_match_is_left_unchanged(tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    mask = helper.make_tensor_value_info("attention_mask", onnx.TensorProto.INT64, [1, 4])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    nodes = [  # a softmax with a mask input, but no attention around it
        helper.make_node("Cast", ["attention_mask"], ["m"], to=1),
        helper.make_node("Add", ["x", "m"], ["s"]),
        helper.make_node("Softmax", ["s"], ["y"]),
    ]
    plain = helper.make_model(helper.make_graph(nodes, "g", [x, mask], [y]))
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    result = fuse_attention(tmp_path / "plain.onnx", tmp_path / "out.onnx", num_heads=2)
    assert result.fused == 0
    assert onnx.load(str(tmp_path / "out.onnx")).graph == plain.graph


@pytest.mark.parametrize("task", ["classification", "ner"])
def test_served_model_loads_pre_optimized_and_answers_like_a_fresh_session(
    apps_base: Path, task: str
) -> None:
    from etbuilder.package.app_template.inference import Predictor

    app = cached_app(apps_base, task)
    m = _manifest(app)["model"]
    opt = m["optimized"]
    assert (app / "onnx" / opt["data"]).is_file() and opt["max_abs_diff_vs_plain"] <= 1e-5
    assert not list((app / "onnx").glob("*optimized*"))  # one copy of the served graph
    fast = Predictor(app)
    assert fast.model_file == m["served"]
    plain = Predictor(app, threads=1)
    plain.session = plain._session(m["served"], optimize=True)
    a = fast.forward(fast.encode(TEXTS))
    b = plain.forward(plain.encode(TEXTS))
    for x, y in zip(a, b, strict=True):
        assert np.abs(x - y).max() <= 1e-5


def test_an_eager_attention_export_is_fused_too(apps_base: Path, tmp_path: Path) -> None:
    """A model loaded with `eager` attention scales the scores after their MatMul."""
    import onnxruntime as ort

    from etbuilder.package.export import export_onnx, load_torch_model, sample_inputs

    app = cached_app(apps_base, "classification")
    model = load_torch_model(app / "model", "classification", "cls", True)
    model.model.set_attn_implementation("eager")
    exported = export_onnx(model, tmp_path / "eager.onnx", app / "tokenizer.json", False, 32)
    config = json.loads((app / "model" / "config.json").read_text())
    heads, layers = config["num_attention_heads"], config["num_hidden_layers"]
    result = fuse_attention(tmp_path / "eager.onnx", tmp_path / "fused.onnx", heads)
    assert result.fused == layers
    feeds = sample_inputs(app / "tokenizer.json", False, exported.input_names, 32, TEXTS)
    plain, fused = (
        ort.InferenceSession(str(tmp_path / f), providers=["CPUExecutionProvider"]).run(None, feeds)
        for f in ("eager.onnx", "fused.onnx")
    )
    assert np.abs(plain[0] - fused[0]).max() <= 1e-5
