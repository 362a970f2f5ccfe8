"""Pass `refuse_unavailable`: a spec field this version cannot carry out stops the compile.

The spec language already describes a few things the runtime does not do yet. Rather than
validate them and then quietly do something else (train once instead of searching, start a module
that does not exist), the compiler refuses them first, in one line that names the field and says
what to write instead.
"""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.errors import CompileError
from etbuilder.spec import Spec

UNAVAILABLE: tuple[tuple[str, str], ...] = (
    (
        "compute.parallelism",
        "`compute.parallelism: fsdp` is not available in this version: the runtime trains "
        "with DDP; use `compute.parallelism: ddp`",
    ),
)
"""Field -> the one-line refusal, for every field whose value this version cannot carry out."""


def unavailable(spec: Spec) -> list[str]:
    """The refusals that apply to `spec` (empty when it asks for nothing unavailable)."""
    asked = {
        "compute.parallelism": spec.compute.parallelism == "fsdp",
    }
    return [message for field, message in UNAVAILABLE if asked[field]]


def refuse_unavailable(ctx: CompileContext) -> CompileContext:
    """Stop at the first field this version cannot carry out."""
    refused = unavailable(ctx.spec)
    if refused:
        raise CompileError(refused[0])
    return ctx
