"""`build_app`: a trained run folder -> a self-contained app folder and its .tar.gz archive.

Steps: copy the Hugging Face model and tokenizer; export ONNX fp32 and check it against
PyTorch (1e-4); quantize to int8; measure both on the run's test set; pick the served model
(the quality gate); write manifest, model card, server, requirements, Dockerfile, examples.
Everything is built in a hidden temporary folder and renamed into place at the end, so an
interrupted build never leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

from etbuilder.errors import PackageError, RunError
from etbuilder.package import app_files, model_card
from etbuilder.package.evalset import EvalSet, load_test_set
from etbuilder.package.manifest import base_manifest
from etbuilder.package.quality import Measurement, decide, measure
from etbuilder.plan import Plan

FP32_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model.int8.onnx"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def load_plan(run_dir: Path) -> Plan:
    """The run's plan.json; RunError naming the folder when it is not a run."""
    path = run_dir / "plan.json"
    if not path.is_file():
        raise RunError(
            f"{run_dir} is not a run folder: it has no plan.json\n"
            "    hint: pass the folder `etb run` wrote, e.g. runs/<name>/<timestamp>"
        )
    return Plan.from_json(path.read_text(encoding="utf-8"))


def build_app(
    run_dir: Path,
    *,
    out: Path | None = None,
    examples: EvalSet | None = None,
    quantization: str | None = None,
) -> Path:
    """Build `run_dir/app/` (or `out`) and `<app>.tar.gz` beside it; returns the app folder.

    examples: measure int8 on these instead of re-reading the run's test split.
    quantization: override the plan's `deploy.quantization` (auto | int8 | none).
    """
    run_dir = Path(run_dir)
    plan = load_plan(run_dir)
    model_dir = run_dir / "model"
    for needed in ("config.json", "tokenizer.json"):
        if not (model_dir / needed).is_file():
            raise PackageError(
                f"{model_dir / needed} is missing: the run has no final model to package",
                hint="finish the run first (`etb run`), or resume it with `etb run --resume`",
            )
    dest = Path(out) if out is not None else run_dir / "app"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _assemble(tmp, plan, run_dir, model_dir, examples, quantization)
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_archive(dest)
    return dest


def _assemble(
    app: Path,
    plan: Plan,
    run_dir: Path,
    model_dir: Path,
    examples: EvalSet | None,
    quantization: str | None,
) -> None:
    from etbuilder.package.app_template.inference import Predictor
    from etbuilder.package.export import export_onnx, load_torch_model, sample_inputs
    from etbuilder.package.optimize import save_optimized
    from etbuilder.package.quantize import quantize_int8

    deploy = plan.deploy
    if "torch" in deploy.formats:
        shutil.copytree(model_dir, app / "model", ignore=shutil.ignore_patterns("*.bin", "*.pt"))
    for name in TOKENIZER_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, app / name)
    shutil.copy2(model_dir / "config.json", app / "config.json")
    manifest = base_manifest(plan, run_dir, _pad_id(app / "tokenizer.json"))
    manifest["run_metrics"] = _run_metrics(run_dir)
    _write_json(app / "manifest.json", manifest)

    task = plan.task
    torch_model = load_torch_model(
        model_dir, task.type, task.pooling, bool(task.options.get("normalize", True))
    )
    pair = manifest["inputs"]["kind"] == "pair"
    exported = export_onnx(
        torch_model, app / FP32_FILE, app / "tokenizer.json", pair, task.max_length
    )
    feeds = sample_inputs(app / "tokenizer.json", pair, exported.input_names, task.max_length)
    fusion = _fuse_attention(app, torch_model, feeds)
    del torch_model
    manifest["onnx"] = {
        "fp32": FP32_FILE,
        "inputs": exported.input_names,
        "output": exported.output_name,
        "opset": exported.opset,
        "parity_max_abs_diff_vs_pytorch": fusion.get("parity", exported.parity_max_abs_diff),
        "attention_fusion": fusion,
        "formats_note": None
        if "onnx" in deploy.formats
        else "ONNX is always built: the server runs it",
    }
    mode = quantization or deploy.quantization
    measurement: Measurement | None = None
    evalset, note = (examples, "") if examples is not None else load_test_set(plan)
    if mode != "none":
        quant = quantize_int8(app / FP32_FILE, app / INT8_FILE)
        manifest["onnx"] |= {
            "int8": INT8_FILE,
            "quantization": quant.settings,
            "quantization_excluded_nodes": quant.excluded,
            "bytes": {"fp32": quant.bytes_fp32, "int8": quant.bytes_int8},
        }
        if evalset is not None and evalset.inputs:
            measurement = measure(
                Predictor(app, FP32_FILE), Predictor(app, INT8_FILE), evalset, task.metric
            )
    if evalset is not None and not evalset.inputs:
        note = "the evaluation set is empty"
    served, reason = decide(mode, measurement, task.metric_direction, note or "no test examples")
    served_file = INT8_FILE if served == "int8" else FP32_FILE
    manifest["model"] = {
        "served": served_file,
        "precision": served,
        "reason": reason,
        "quantization_setting": mode,
    }
    optimized = save_optimized(app, served_file, feeds)
    if optimized:
        manifest["model"]["optimized"] = optimized
    manifest["quality"] = measurement.as_dict() if measurement else None
    if measurement is None:
        manifest["quality_note"] = note or f"deploy.quantization is `{mode}`"
    samples = app_files.example_inputs(
        task.type, manifest["inputs"]["kind"], evalset.inputs if evalset else []
    )
    app_files.write_code(app)
    app_files.write_examples(app, samples)
    _write_json(app / "manifest.json", manifest)
    card = model_card.render(plan, manifest, {"inputs": samples[:2]})
    (app / "README.md").write_text(card, encoding="utf-8")


def _fuse_attention(app: Path, torch_model: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    """Replace `onnx/model.onnx` by its attention-fused graph when that one still matches
    PyTorch within the parity tolerance; returns what was done, for the manifest."""
    import torch

    from etbuilder.package.export import PARITY_TOLERANCE, parity
    from etbuilder.package.fuse import fuse_attention

    config = json.loads((app / "config.json").read_text(encoding="utf-8"))
    heads = config.get("num_attention_heads") or config.get("n_heads")
    if not isinstance(heads, int):
        return {"blocks": 0, "note": "the config names no attention head count"}
    plain = app / FP32_FILE
    fused = plain.with_name("model.fused.onnx")
    try:
        result = fuse_attention(plain, fused, heads)
        if result.fused == 0:
            return {"blocks": 0, "note": "no attention block matched the fusable pattern"}
        names = list(torch_model.input_names)
        with torch.no_grad():
            expected = torch_model(*(torch.from_numpy(feeds[n]) for n in names)).numpy()
        diff = parity(fused, feeds, expected)
        if not diff <= PARITY_TOLERANCE:
            return {"blocks": 0, "note": f"the fused graph differs from PyTorch by {diff:.1e}"}
        os.replace(fused, plain)
        return {
            "blocks": result.fused,
            "op": "com.microsoft.MultiHeadAttention",
            "nodes": [result.nodes_before, result.nodes_after],
            "parity": diff,
        }
    finally:
        fused.unlink(missing_ok=True)


def _pad_id(tokenizer_file: Path) -> int:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    if tok.padding:
        return int(tok.padding["pad_id"])
    for token in ("[PAD]", "<pad>"):
        found = tok.token_to_id(token)
        if found is not None:
            return int(found)
    return 0


def _run_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's test metrics (metrics.json written by the engine), scalars only."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("test"), dict):
        data = data["test"]
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int | float | str)}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _swap_into_place(tmp: Path, dest: Path) -> None:
    """Replace `dest` by `tmp`; the old folder is moved aside first and removed last."""
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def write_archive(app: Path) -> Path:
    """`<app>.tar.gz` beside the folder (written to a temporary name, then renamed)."""
    archive = app.parent / f"{app.name}.tar.gz"
    partial = app.parent / f".{app.name}.tar.gz.partial-{os.getpid()}"
    try:
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            tar.add(app, arcname=app.name)
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)
    return archive
