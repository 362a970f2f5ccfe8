"""Atomic writes: all or nothing, and the permissions of a plain open() (not mkstemp's 0600)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from etbuilder.atomic import atomic_file, atomic_write


def test_written_file_gets_the_umask_permissions(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    target = atomic_write(tmp_path / "metrics.json", '{"a": 1}')
    assert target.read_text() == '{"a": 1}'
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "report.md", "old")
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
