"""Spec -> Plan: an ordered list of small pure passes (no torch).

`compile_spec` and `PASSES` live in `etbuilder.compiler.pipeline`; they are imported lazily
here because `etbuilder.data` (which the passes use) imports the Plan models of this package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PASSES", "compile_spec"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from etbuilder.compiler import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'etbuilder.compiler' has no attribute {name!r}")
