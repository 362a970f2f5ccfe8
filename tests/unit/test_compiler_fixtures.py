"""Tiny crafted projects for the compiler tests: data files + a spec, compiled offline.

The backbone is `minilm-l6` (the offline package: config and tokenizer files only, no torch).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from etbuilder.compiler.pipeline import compile_spec
from etbuilder.plan import HardwareInfo, Plan
from etbuilder.spec import Spec
from etbuilder.spec.loader import load_spec

CPU = HardwareInfo(
    device="cpu",
    device_name="test-cpu",
    device_count=1,
    cpu_cores=4,
    memory_bytes=16 * 2**30,
    bf16=False,
)
"""A fixed machine, so that plans do not depend on the host."""

GPU = HardwareInfo(
    device="cuda",
    device_name="test-gpu",
    device_count=4,
    cpu_cores=32,
    memory_bytes=80 * 2**30,
    bf16=True,
)

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
]


def sentence(i: int, extra: int = 0) -> str:
    """A distinct short sentence per `i`."""
    words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(3 + (i % 5) + extra)]
    return f"item {i} " + " ".join(words)


def classification_csv(rows: int = 200, ratio: int = 1) -> str:
    """`text,label` with labels pos/neg (`ratio` neg per pos)."""
    lines = ["text,label"]
    for i in range(rows):
        lines.append(f"{sentence(i)},{'pos' if i % (ratio + 1) == 0 else 'neg'}")
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=False)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No recorded throughput from the host leaks into the estimates."""
    cache = tmp_path / "etb-cache"
    monkeypatch.setenv("ETB_CACHE_DIR", str(cache))
    return cache


def write_project(folder: Path, spec: str, files: Mapping[str, str | bytes]) -> Path:
    """Write `files` (relative name -> content) and `spec` into `folder`; return the spec path."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    spec_path = folder / "spec.yaml"
    spec_path.write_text(textwrap.dedent(spec), encoding="utf-8")
    return spec_path


def load(folder: Path, spec: str, files: Mapping[str, str | bytes]) -> tuple[Spec, Path]:
    path = write_project(folder, spec, files)
    return load_spec(path), path


def compile_project(
    folder: Path,
    spec: str,
    files: Mapping[str, str | bytes],
    hardware: HardwareInfo = CPU,
) -> Plan:
    """Write and compile a project."""
    loaded, path = load(folder, spec, files)
    return compile_spec(loaded, hardware=hardware, spec_path=path)


CLASSIFICATION_SPEC = """\
etb: 1
name: tiny
data:
  train: train.csv
task:
  type: classification
  text: text
  label: label
"""
