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
