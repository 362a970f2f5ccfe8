"""`detect_hardware`: what this machine offers, read without importing torch.

CPU cores from the process's affinity mask, RAM from /proc/meminfo, CPU bf16 from /proc/cpuinfo
flags, GPUs from `nvidia-smi` when it is installed. The same machine gives the same answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from etbuilder.plan import HardwareInfo

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""/proc/cpuinfo flags meaning bf16 matmuls run natively on this CPU."""

GPU_BF16_MIN_CAPABILITY = (8, 0)
"""NVIDIA compute capability from which bf16 is native (Ampere)."""

NVIDIA_SMI_QUERY = ["--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"]


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def host_memory_bytes(meminfo: str | None = None) -> int:
    """Total RAM from /proc/meminfo (`MemTotal`); 0 when unknown."""
    if meminfo is None:
        meminfo = _read("/proc/meminfo")
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            return int(parts[1]) * 1024 if len(parts) >= 2 and parts[1].isdigit() else 0
    return 0


def cpu_model_and_bf16(cpuinfo: str | None = None) -> tuple[str, bool]:
    """(CPU model name, whether its flags include native bf16) from /proc/cpuinfo."""
    if cpuinfo is None:
        cpuinfo = _read("/proc/cpuinfo")
    name = "cpu"
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and name == "cpu":
            name = value.strip() or name
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return name, any(flag in flags for flag in CPU_BF16_FLAGS)


def parse_nvidia_smi(output: str) -> list[tuple[str, int, tuple[int, int]]]:
    """(name, memory bytes, compute capability) per GPU from the nvidia-smi csv query."""
    gpus: list[tuple[str, int, tuple[int, int]]] = []
    for line in output.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[0]:
            continue
        name, memory, capability = parts[0], parts[1], parts[2]
        mib = int(float(memory.split()[0])) if memory and memory[0].isdigit() else 0
        major, _, minor = capability.partition(".")
        cap = (int(major), int(minor or 0)) if major.isdigit() else (0, 0)
        gpus.append((name, mib * 1024 * 1024, cap))
    return gpus


def _visible(
    gpus: list[tuple[str, int, tuple[int, int]]],
) -> list[tuple[str, int, tuple[int, int]]]:
    """Honour CUDA_VISIBLE_DEVICES given as indices (an empty value hides every GPU)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    if not visible.strip():
        return []
    picked = []
    for item in visible.split(","):
        item = item.strip()
        if not item.isdigit():  # UUIDs or -1: keep what nvidia-smi says, or stop at -1
            if item.startswith("-"):
                break
            return gpus
        if int(item) < len(gpus):
            picked.append(gpus[int(item)])
    return picked


def _query_gpus() -> list[tuple[str, int, tuple[int, int]]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run(
            [exe, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if done.returncode != 0:
        return []
    return _visible(parse_nvidia_smi(done.stdout))


def detect_hardware() -> HardwareInfo:
    """The accelerator (first visible NVIDIA GPU, else the CPU), its memory and bf16 support."""
    cores = cpu_cores()
    gpus = _query_gpus()
    if gpus:
        name, memory, cap = gpus[0]
        return HardwareInfo(
            device="cuda",
            device_name=name,
            device_count=len(gpus),
            cpu_cores=cores,
            memory_bytes=memory,
            bf16=cap >= GPU_BF16_MIN_CAPABILITY,
        )
    model, bf16 = cpu_model_and_bf16()
    return HardwareInfo(
        device="cpu",
        device_name=model,
        device_count=1,
        cpu_cores=cores,
        memory_bytes=host_memory_bytes(),
        bf16=bf16,
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
