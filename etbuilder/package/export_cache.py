"""The run's checked fp32 ONNX export, kept beside its model so that packaging it again skips
PyTorch.

Exporting is packaging's largest fixed cost (importing torch and transformers, loading the
model, torch.export tracing and decomposition, attention fusion, two parity checks: about
10 s of CPU for minilm-l6). Its result depends only on the model's files, the task's export
settings and the exporter's versions, so the first packaging of a run stores the graph it
checked (`RUN/onnx-export/model.onnx` and `export.json`, keyed by a hash of all of them) and a
later `etb package` of the same run (other formats, another quantization setting, a rebuilt
app) copies it instead of exporting again. A key that differs in anything (the model was
retrained, torch upgraded) is a miss: the export runs and replaces the stored one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

FOLDER = "onnx-export"
GRAPH = "model.onnx"
RECORD = "export.json"
EXPORT_FORMAT = 1
"""Raised when the export or fusion code changes what it writes (old entries then miss)."""
VERSIONED = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def cache_key(model_dir: Path, settings: dict[str, Any]) -> str:
    """A hash of every file of the model folder, `settings` and the exporter's versions."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(json.dumps({p: _version(p) for p in VERSIONED}, sort_keys=True).encode())
    digest.update(str(EXPORT_FORMAT).encode())
    for file in sorted(f for f in model_dir.rglob("*") if f.is_file()):
        digest.update(file.relative_to(model_dir).as_posix().encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def lookup(run_dir: Path, key: str, dest: Path) -> dict[str, Any] | None:
    """Copy the stored graph to `dest` and return its record when `key` matches, else None."""
    folder = run_dir / FOLDER
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    graph = folder / GRAPH
    if not graph.is_file() or graph.stat().st_size != record.get("bytes"):
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(graph, dest)
    export = record.get("export")
    return export if isinstance(export, dict) else None


def store(run_dir: Path, key: str, graph: Path, export: dict[str, Any]) -> None:
    """Keep `graph` and its manifest entry `export` under `run_dir` (best effort: a run folder
    that cannot be written to only loses the shortcut)."""
    folder = run_dir / FOLDER
    partial = folder / f".{GRAPH}.partial-{os.getpid()}"
    try:
        folder.mkdir(exist_ok=True)
        (folder / RECORD).unlink(missing_ok=True)  # no record points at a half-written graph
        shutil.copyfile(graph, partial)
        os.replace(partial, folder / GRAPH)
        record = {"key": key, "bytes": (folder / GRAPH).stat().st_size, "export": export}
        (folder / RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    except OSError:
        partial.unlink(missing_ok=True)
