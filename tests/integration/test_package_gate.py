"""The slim default app and the quality gate across batch sizes.

The default archive holds only what the server reads and stays, in proportion to the model's
parameters, under the size a minilm-l6 app must meet (30 MB for 22.7M parameters); the gate
rejects an int8 graph that is right at the server's largest batch but wrong at batch 1, and
serves the next recipe instead.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from etbuilder.package import build_app, from_texts
from etbuilder.package.gate import Verdict, judge, run_gate
from etbuilder.package.quality import task_outputs
from etbuilder.package.quantize import RECIPES
from tests.fixtures.tiny_run import cached_app

MINILM_TARGET_BYTES_PER_PARAMETER = 30e6 / 22.7e6
"""The archive target of a minilm-l6 app (30 MB) per parameter of that model."""
TEXTS = [
    "the film was great fun",
    "service slow food cold",
    "the actors were superb but the plot felt thin",
    "price fair staff kind room clean",
    "noisy street",
    "view lovely",
] * 6


@pytest.fixture(scope="session")
def apps_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny-apps"


def test_default_archive_holds_only_what_the_server_reads(apps_base: Path, tmp_path: Path) -> None:
    run = cached_app(apps_base, "classification").parent
    app = build_app(run, out=tmp_path / "slim", formats=[], quantization="int8")
    manifest = json.loads((app / "manifest.json").read_text())
    served = manifest["model"]["served"]
    assert served == "onnx/model.int8.onnx" and manifest["model"]["recipe"] == RECIPES[0].name
    with tarfile.open(tmp_path / "slim.tar.gz") as tar:
        files = {m.name for m in tar.getmembers() if m.isfile()}
    expected = {
        "manifest.json", "tokenizer.json", "README.md", "requirements.txt", "Dockerfile",
        ".dockerignore", "server.py", "app_routes.py", "app_http.py", "app_metrics.py",
        "inference.py", "examples/request.json", "examples/curl.sh",
        served, f"onnx/{manifest['model']['optimized']['data']}",
    }  # fmt: skip
    assert files == {f"slim/{name}" for name in expected}
    parameters = manifest["backbone"]["parameters"]
    fixed = len(gzip.compress((app / "tokenizer.json").read_bytes(), 1)) + 100_000
    size = (tmp_path / "slim.tar.gz").stat().st_size
    assert size <= MINILM_TARGET_BYTES_PER_PARAMETER * parameters + fixed, (size, parameters)
    # The formats a spec asks for come on top: the Hugging Face folder and the fp32 graph.
    full = build_app(run, out=tmp_path / "full", formats=["torch", "onnx"], quantization="int8")
    assert (full / "model" / "model.safetensors").is_file()
    assert (full / "onnx" / "model.onnx").is_file() and (full / served).is_file()


def _broken_at_batch_1(src: Path, dest: Path) -> None:
    """`src` with its logits negated when the batch holds one input: right at any larger
    batch, wrong (argmin instead of argmax) at batch 1."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    out = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [f"{o}_raw" if o == out else o for o in node.output]
    raw = f"{out}_raw"
    model.graph.initializer.extend(
        [
            helper.make_tensor("zero", TensorProto.INT64, [], [0]),
            helper.make_tensor("one", TensorProto.INT64, [], [1]),
        ]
    )
    model.graph.node.extend(
        [
            helper.make_node("Shape", [raw], ["shape"]),
            helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
            helper.make_node("Equal", ["batch", "one"], ["alone"]),
            helper.make_node("Neg", [raw], ["negated"]),
            helper.make_node("Where", ["alone", "negated", raw], [out]),
        ]
    )
    onnx.save(model, str(dest))


def test_gate_rejects_an_int8_graph_broken_at_batch_1_only(apps_base: Path, tmp_path: Path) -> None:
    from etbuilder.package.app_template.inference import Predictor

    app = tmp_path / "app"
    shutil.copytree(cached_app(apps_base, "classification"), app)
    _broken_at_batch_1(app / "onnx/model.onnx", app / "onnx/broken.onnx")
    shutil.copy2(app / "onnx/model.onnx", app / "onnx/exact.onnx")
    fp32 = Predictor(app, "onnx/model.onnx")
    broken = Predictor(app, "onnx/broken.onnx")
    gold = task_outputs(fp32, from_texts(TEXTS))  # fp32 scores 1.0 on its own labels
    evalset = from_texts(TEXTS, gold)
    outputs = {evalset.source: task_outputs(fp32, evalset)}

    verdict = judge(fp32, broken, Verdict(RECIPES[0], "onnx/broken.onnx"), [evalset],
                    outputs, "accuracy", "maximize", (16, 1))  # fmt: skip
    at_16, at_1 = verdict.checks
    assert at_16.batch == 16 and at_16.int8["accuracy"] == at_16.fp32["accuracy"] == 1.0
    assert at_1.batch == 1 and at_1.int8["accuracy"] < 0.9
    assert not verdict.passed and "at batch 1" in verdict.reason
    assert verdict.worst is at_1

    candidates = {RECIPES[0].name: "onnx/broken.onnx", RECIPES[1].name: "onnx/exact.onnx"}
    result = run_gate(
        "auto",
        RECIPES,
        lambda r: (candidates[r.name], Predictor(app, candidates[r.name])),
        fp32,
        [evalset],
        "accuracy",
        "maximize",
        (16, 1),
        "",
    )
    assert result.served == "int8" and result.chosen is not None
    assert result.chosen.recipe == RECIPES[1] and result.chosen.passed
    assert [v.passed for v in result.tried] == [False, True]
    assert len(result.chosen.checks) == 2  # batch 16 and batch 1, both exact

    only_broken = run_gate("auto", RECIPES[:1], lambda r: ("onnx/broken.onnx", broken), fp32,
                           [evalset], "accuracy", "maximize", (16, 1), "")  # fmt: skip
    assert only_broken.served == "fp32" and "no int8 recipe passed" in only_broken.reason


def test_gate_tries_dynamic_then_static_then_serves_fp32(tmp_path: Path) -> None:
    from tests.fixtures.tiny_run import make_tiny_run

    run = make_tiny_run(tmp_path / "tiny", "classification")
    # No int8 graph can gain 100 points on fp32: every recipe misses, in order, then fp32.
    app = build_app(run, out=tmp_path / "strict", formats=[], gate_points=-100.0)
    manifest = json.loads((app / "manifest.json").read_text())
    recipes = manifest["quality"]["gate"]["recipes"]
    assert [r["recipe"] for r in recipes] == [r.name for r in RECIPES]
    assert [r.method for r in RECIPES] == ["dynamic", "dynamic", "static"]
    assert not any(r["passed"] for r in recipes)
    assert all(r["worst_points_lost"] is not None and r["checks"] for r in recipes)
    assert manifest["quality"]["gate"]["points_allowed"] == -100.0
    assert manifest["model"]["precision"] == "fp32"
    assert manifest["model"]["served"] == "onnx/model.onnx"
    assert "no int8 recipe passed" in manifest["model"]["reason"]
    assert (app / "onnx" / "model.onnx").is_file() and not (app / "onnx/model.int8.onnx").exists()
    # Any loss allowed: the first (smallest) recipe is served, the others never built.
    loose = build_app(run, out=tmp_path / "loose", formats=[], gate_points=100.0)
    manifest = json.loads((loose / "manifest.json").read_text())
    assert manifest["model"]["recipe"] == RECIPES[0].name
    assert [r["recipe"] for r in manifest["quality"]["gate"]["recipes"]] == [RECIPES[0].name]


def test_static_recipe_is_calibrated_and_answers_alike_at_every_batch(
    apps_base: Path, tmp_path: Path
) -> None:
    import onnx

    from etbuilder.package.app_template.inference import Predictor
    from etbuilder.package.builder import load_plan
    from etbuilder.package.evalset import load_splits
    from etbuilder.package.quantize import calibration_feeds, quantize_int8

    app = tmp_path / "app"
    shutil.copytree(cached_app(apps_base, "classification"), app)
    run = cached_app(apps_base, "classification").parent
    fp32 = Predictor(app, "onnx/model.onnx", threads=1)
    train, _ = load_splits(load_plan(run), ("train",), 256)
    feeds = calibration_feeds(fp32, train[0].inputs, pretokenized=False)
    assert feeds and all(set(f) == set(fp32.input_names) for f in feeds)
    static = RECIPES[-1]
    result = quantize_int8(app / "onnx/model.onnx", app / "onnx/static.onnx", static, feeds)
    assert result.settings["calibration_texts"] == len(train[0].inputs)
    ops = {n.op_type for n in onnx.load(str(app / "onnx/static.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    quantized = Predictor(app, "onnx/static.onnx", threads=1)
    evalset = from_texts(TEXTS)
    alone = task_outputs(quantized, evalset, 1)
    assert task_outputs(quantized, evalset, 16) == alone == task_outputs(quantized, evalset)
    agreement = sum(a == b for a, b in zip(alone, task_outputs(fp32, evalset), strict=True))
    assert agreement / len(TEXTS) >= 0.8  # a calibrated int8 graph of the same model
