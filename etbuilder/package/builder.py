"""`build_app`: a trained run folder -> a self-contained app folder and its .tar.gz archive.

Steps: export ONNX fp32 and check it against PyTorch (1e-4); quantize to int8 recipe by
recipe and measure each against fp32 at batch 1 and at the server's largest batch, on the
test and validation splits (the quality gate, `gate.py`); save the served graph as
onnxruntime optimizes it; write manifest, model card, server, requirements, Dockerfile,
examples. The app holds what the server reads (one graph, tokenizer, manifest, code, card,
examples); `deploy.formats` adds the Hugging Face folder (`torch`) and the fp32 ONNX graph
(`onnx`). Everything is built in a hidden temporary folder and renamed into place at the end,
so an interrupted build never leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etbuilder.errors import PackageError, RunError
from etbuilder.package import app_files, model_card
from etbuilder.package.disclosure import scrub_app
from etbuilder.package.evalset import EvalSet, load_splits
from etbuilder.package.manifest import Manifest, OnnxExport, ServedModel, base_manifest
from etbuilder.plan import Plan

FP32_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model.int8.onnx"
TOKENIZER_FILES = ("tokenizer.json",)
"""What the server reads of the tokenizer (the Hugging Face folder carries the rest)."""
WORK = ".work"
"""Intermediate graphs (fp32 export, int8 candidates), removed before the app is complete."""
GATE_SPLITS = ("test", "validation")
GATE_MAX_ROWS = 1000
"""Rows per split the gate measures (a sample stratified by label on larger splits, its 95%
margin recorded with each check): with int8 changing ~1% of labels, the margin of 1,000 rows
is about 0.6 point at most, and it keeps packaging quick on large splits."""
ARCHIVE_LEVEL = 1
"""gzip level of the archive: int8 and fp32 weights barely compress at any level, and level
1 is several times faster than the default 9."""


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
    formats: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    gate_points: float | None = None,
) -> Path:
    """Build `run_dir/app/` (or `out`) and `<app>.tar.gz` beside it; returns the app folder.

    examples: measure int8 on these instead of re-reading the run's test and validation splits.
    quantization: override the plan's `deploy.quantization` (auto | int8 | none).
    formats: override the plan's `deploy.formats` (extra formats: torch, onnx; [] for none).
    progress: called with one line per finished step (its wall and CPU seconds).
    gate_points: the most an int8 recipe may lose against fp32, in metric points (default
    `quality.GATE_POINTS`, the 0.5 point the manifest promises).
    """
    say = progress or (lambda _: None)
    run_dir = Path(run_dir)
    dest = Path(out) if out is not None else run_dir / "app"
    check_destination(dest)
    plan = load_plan(run_dir)
    model_dir = run_dir / "model"
    for needed in ("config.json", "tokenizer.json"):
        if not (model_dir / needed).is_file():
            raise PackageError(
                f"{model_dir / needed} is missing: the run has no final model to package",
                hint="finish the run first (`etb run`), or resume it with `etb run --resume`",
            )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        extra: list[str] = list(plan.deploy.formats) if formats is None else list(formats)
        unknown = sorted(set(extra) - {"torch", "onnx"})
        if unknown:
            raise PackageError(f"unknown formats {unknown}", hint="use torch and/or onnx")
        from etbuilder.package.quality import GATE_POINTS

        points = GATE_POINTS if gate_points is None else gate_points
        _assemble(tmp, plan, run_dir, model_dir, examples, quantization, extra, say, points)
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    clock, cpu = time.perf_counter(), time.process_time()
    archive = write_archive(dest)
    wall, cpu = time.perf_counter() - clock, time.process_time() - cpu
    size = archive.stat().st_size / 1e6
    say(f"package: archive {archive.name} ({size:.1f} MB) {wall:.1f} s (CPU {cpu:.1f} s)")
    return dest


def _assemble(
    app: Path,
    plan: Plan,
    run_dir: Path,
    model_dir: Path,
    examples: EvalSet | None,
    quantization: str | None,
    formats: list[str],
    say: Callable[[str], None],
    gate_points: float,
) -> None:
    from etbuilder.package.app_template.inference import Predictor, cpu_count
    from etbuilder.package.export import sample_inputs
    from etbuilder.package.gate import run_gate
    from etbuilder.package.optimize import save_optimized
    from etbuilder.package.quantize import (
        CALIBRATION_ROWS,
        RECIPES,
        calibration_feeds,
        quantize_int8,
    )
    from etbuilder.plan.tasks import TASK_RULES

    timings: dict[str, dict[str, float]] = {}
    clock, cpu = time.perf_counter(), time.process_time()

    def lap(name: str) -> None:
        """Wall and CPU seconds (all threads of this process) of the step just done."""
        nonlocal clock, cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        timings[name] = {"wall": round(now - clock, 2), "cpu": round(now_cpu - cpu, 2)}
        clock, cpu = now, now_cpu
        say(f"package: {name} {timings[name]['wall']:.1f} s (CPU {timings[name]['cpu']:.1f} s)")

    work = app / WORK
    work.mkdir()
    if "torch" in formats:
        shutil.copytree(model_dir, app / "model", ignore=shutil.ignore_patterns("*.bin", "*.pt"))
    for name in TOKENIZER_FILES:
        shutil.copy2(model_dir / name, app / name)
    manifest = base_manifest(plan, run_dir, _pad_id(app / "tokenizer.json"))
    manifest.run_metrics = _run_metrics(run_dir)
    manifest.write(app / "manifest.json")

    task = plan.task
    pair = manifest.inputs.kind == "pair"
    fp32_work = f"{WORK}/model.onnx"
    manifest.onnx = _export(app / fp32_work, run_dir, model_dir, plan, pair, lap)
    feeds = sample_inputs(app / "tokenizer.json", pair, manifest.onnx.inputs, task.max_length)
    mode = quantization or plan.deploy.quantization
    if examples is not None:
        evalsets, notes = ([examples] if examples.inputs else []), ["the evaluation set is empty"]
    else:
        evalsets, notes = load_splits(plan, GATE_SPLITS, GATE_MAX_ROWS)
    lap("read_splits")
    note = "; ".join(notes) or "no evaluation examples"
    quantized: dict[str, Any] = {}
    # One single-threaded session per graph, run from one thread per core: a batch of one
    # keeps a multi-threaded session's threads spinning idle (CPU spent for nothing).
    workers = cpu_count()

    fp32_predictor = Predictor(app, fp32_work, threads=1, spin=False) if mode != "none" else None

    def make(recipe: Any) -> tuple[str, Any] | None:
        """Quantize `recipe` (None: a static recipe without training texts to calibrate on)."""
        file = f"{WORK}/model.{recipe.name}.onnx"
        calibration: list[dict[str, Any]] = []
        if recipe.method == "static":
            found, _ = load_splits(plan, ("train",), CALIBRATION_ROWS)
            if not found or fp32_predictor is None:
                return None
            pretokenized = TASK_RULES[task.type].inputs == "tokens"
            calibration = calibration_feeds(fp32_predictor, found[0].inputs, pretokenized)
        quantized[file] = quantize_int8(app / fp32_work, app / file, recipe, calibration)
        return file, Predictor(app, file, threads=1, spin=False)

    result = run_gate(
        mode,
        RECIPES if mode != "none" else (),
        make,
        fp32_predictor,
        evalsets,
        task.metric,
        task.metric_direction,
        _gate_batches(manifest),
        note,
        workers,
        gate_points,
    )
    lap("quantize_and_gate")
    chosen = result.chosen
    source = chosen.file if chosen is not None and result.served == "int8" else fp32_work
    served_file = INT8_FILE if result.served == "int8" else FP32_FILE
    served = ServedModel(
        served=served_file,
        precision=result.served,
        reason=result.reason,
        quantization_setting=mode,
    )
    if chosen is not None and result.served == "int8":
        quant = quantized[chosen.file]
        served.recipe = chosen.recipe.name
        served.quantization = quant.settings
        served.quantization_excluded_nodes = quant.excluded
    optimized = save_optimized(app / source, app / served_file, feeds)
    if optimized:
        served.optimized = optimized
    else:
        os.replace(app / source, app / served_file)
    if "onnx" in formats and served_file != FP32_FILE:
        os.replace(app / fp32_work, app / FP32_FILE)
        manifest.onnx.fp32 = FP32_FILE
    served.bytes = _bytes(app / "onnx")
    manifest.model = served
    lap("optimize")
    worst = (
        chosen.worst if chosen is not None else (result.tried[-1].worst if result.tried else None)
    )
    manifest.quality = (
        worst.as_dict()
        | {
            "gate": {
                "points_allowed": gate_points,
                "batches": list(_gate_batches(manifest)),
                "splits": [e.source for e in evalsets],
                "recipes": [v.as_dict(task.metric_direction) for v in result.tried],
            }
        }
        if worst is not None
        else None
    )
    if worst is None:
        manifest.quality_note = note if mode != "none" else "deploy.quantization is `none`"
    samples = app_files.example_inputs(
        task.type, manifest.inputs.kind, evalsets[0].inputs if evalsets else []
    )
    shutil.rmtree(work)
    app_files.write_code(app, onnxruntime_min=(optimized or {}).get("onnxruntime"))
    app_files.write_examples(app, samples)
    lap("write_files")
    manifest.build_seconds = timings
    manifest.write(app / "manifest.json")
    card = model_card.render(plan, manifest.as_dict(), {"inputs": samples[:2]})
    (app / "README.md").write_text(card, encoding="utf-8")
    scrub_app(app, plan, run_dir)


def _export(
    dest: Path, run_dir: Path, model_dir: Path, plan: Plan, pair: bool, lap: Callable[[str], None]
) -> OnnxExport:
    """The checked (and attention-fused) fp32 graph at `dest`: the run's stored export when
    its key matches (`export_cache`), else exported from PyTorch now and stored."""
    from etbuilder.package import export_cache

    task = plan.task
    settings = {
        "task": task.type,
        "pooling": task.pooling,
        "normalize": task.normalize is not False,
        "max_length": task.max_length,
        "pair": pair,
    }
    key = export_cache.cache_key(model_dir, settings)
    stored = export_cache.lookup(run_dir, key, dest)
    if stored is not None:
        try:
            found = OnnxExport(**stored)
        except ValueError:  # a record written by another manifest version: export again
            dest.unlink(missing_ok=True)
        else:
            lap("export_stored")
            return found
    from etbuilder.package.export import export_onnx, load_torch_model, sample_inputs

    torch_model = load_torch_model(model_dir, task.type, task.pooling, task.normalize is not False)
    lap("load_model")
    exported = export_onnx(torch_model, dest, model_dir / "tokenizer.json", pair, task.max_length)
    feeds = sample_inputs(model_dir / "tokenizer.json", pair, exported.input_names, task.max_length)
    fusion = _fuse_attention(dest, model_dir, torch_model, feeds)
    del torch_model
    result = OnnxExport(
        inputs=exported.input_names,
        output=exported.output_name,
        opset=exported.opset,
        parity_max_abs_diff_vs_pytorch=fusion.get("parity", exported.parity_max_abs_diff),
        attention_fusion=fusion,
    )
    export_cache.store(run_dir, key, dest, result.model_dump())
    lap("export")
    return result


def _gate_batches(manifest: Manifest) -> tuple[int, ...]:
    """The server's largest request (answered in one micro-batch), then batch 1."""
    largest = manifest.inputs.max_batch_size
    return (largest, 1) if largest > 1 else (1,)


def _bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _fuse_attention(
    plain: Path, model_dir: Path, torch_model: Any, feeds: dict[str, Any]
) -> dict[str, Any]:
    """Replace the exported graph `plain` by its attention-fused graph when that one still
    matches PyTorch within the parity tolerance; returns what was done, for the manifest."""
    import torch

    from etbuilder.package.export import PARITY_TOLERANCE, parity
    from etbuilder.package.fuse import fuse_attention

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    heads = config.get("num_attention_heads") or config.get("n_heads")
    if not isinstance(heads, int):
        return {"blocks": 0, "note": "the config names no attention head count"}
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


def _is_app(folder: Path) -> bool:
    return (folder / "manifest.json").is_file() and (folder / "inference.py").is_file()


def check_destination(dest: Path) -> None:
    """Refuse, before any work, an app folder (or its `.tar.gz` beside it) that would replace
    something that is not an app: only a missing path, an empty folder or an earlier app."""
    from etbuilder.errors import RunError

    archive = dest.parent / f"{dest.name}.tar.gz"
    if dest.exists() and not dest.is_dir():
        raise RunError(f"--output {dest} is a file, not a folder; name a new folder for the app")
    if dest.is_dir() and any(dest.iterdir()) and not _is_app(dest):
        shown = ", ".join(sorted(p.name for p in dest.iterdir())[:5])
        raise RunError(
            f"--output {dest} is not empty and holds no app (it holds: {shown}); the app "
            "replaces its folder, so name a new folder or an earlier app"
        )
    if archive.exists() and not (archive.is_file() and _is_app(dest)):
        raise RunError(
            f"{archive} exists and belongs to no app in {dest}; the app's archive would "
            "replace it: move it away or name another --output"
        )


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
        with tarfile.open(partial, "w:gz", compresslevel=ARCHIVE_LEVEL) as tar:
            tar.add(app, arcname=app.name)
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)
    return archive
