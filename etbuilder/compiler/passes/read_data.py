"""Pass `read_data`: read every split, check the task's columns, carve the split, fingerprint."""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.data import read_examples


def read_data(ctx: CompileContext) -> CompileContext:
    """Read each file once, check its columns, and reduce it to the rows the task needs."""
    splits, fingerprint = read_examples(ctx.spec.task, ctx.sources, ctx.split)
    return ctx.replace(splits=splits, fingerprint=fingerprint)
