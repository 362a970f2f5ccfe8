"""detect_hardware: CPU facts from /proc, GPUs from nvidia-smi, no torch, deterministic."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from etbuilder.hardware import (
    cpu_model_and_bf16,
    detect_hardware,
    host_memory_bytes,
    parse_nvidia_smi,
)

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse avx2 avx512f amx_bf16 amx_tile
"""


def test_proc_parsers() -> None:
    assert cpu_model_and_bf16(CPUINFO) == ("Intel(R) Xeon(R) Platinum 8480+", True)
    assert cpu_model_and_bf16(CPUINFO.replace("amx_bf16 ", "")) == (
        "Intel(R) Xeon(R) Platinum 8480+",
        False,
    )
    assert cpu_model_and_bf16("") == ("cpu", False)
    assert host_memory_bytes("MemTotal:       16384 kB\nMemFree: 1 kB\n") == 16384 * 1024
    assert host_memory_bytes("") == 0


def test_nvidia_smi_parser() -> None:
    out = "NVIDIA H100 80GB HBM3, 81559, 9.0\nTesla T4, 15360, 7.5\n\n"
    assert parse_nvidia_smi(out) == [
        ("NVIDIA H100 80GB HBM3", 81559 * 2**20, (9, 0)),
        ("Tesla T4", 15360 * 2**20, (7, 5)),
    ]


def test_this_machine_is_described_the_same_way_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi: the CPU path
    first = detect_hardware()
    assert first == detect_hardware()
    assert first.device == "cpu" and first.device_count == 1
    assert first.cpu_cores == len(os.sched_getaffinity(0))
    assert first.memory_bytes > 2**28


def fake_nvidia_smi(folder: Path, output: str) -> None:
    exe = folder / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def test_gpus_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvidia_smi(tmp_path, "Tesla T4, 15360, 7.5\\nNVIDIA A100-SXM4-40GB, 40960, 8.0\\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    info = detect_hardware()
    assert (info.device, info.device_name, info.device_count) == ("cuda", "Tesla T4", 2)
    assert info.memory_bytes == 15360 * 2**20 and info.bf16 is False
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    info = detect_hardware()
    assert (info.device_name, info.device_count, info.bf16) == ("NVIDIA A100-SXM4-40GB", 1, True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_hardware().device == "cpu"


def test_failing_nvidia_smi_falls_back_to_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = tmp_path / "nvidia-smi"
    exe.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_hardware().device == "cpu"
