"""What reading a spec may cost: the file's size, and the size and depth of the data its YAML
aliases expand to.

A YAML alias repeats a node without repeating its text, so a few hundred bytes of nested aliases
("billion laughs") describe billions of values. The spec loader counts every value it builds
and every level it descends while turning the YAML nodes into data, and stops at the first
value over budget: the cost of refusing a hostile spec is bounded by these numbers, not by the
document. Every caller of `load_spec`/`load_spec_text` (the CLI, the studio's editor) gets the
same limits; `check_spec_size` is the cheap first check for a caller holding raw bytes, and
`etbuilder.spec.loader.check_spec_text` applies all of them to a text without validating it.
"""

from __future__ import annotations

from etbuilder.errors import SpecError, SpecProblem

MAX_SPEC_BYTES = 256 * 1024
"""Largest spec file read (256 KiB); real specs are a few kilobytes."""
MAX_VALUES = 20_000
"""Most values (mappings, lists and scalars, counted after alias expansion) in one spec."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists in one spec (after alias expansion)."""
MAX_PROBLEMS = 100
"""Most schema problems described one by one (each needs a search of the schema for hints)."""


def check_spec_size(size: int, file: str = "<spec>") -> None:
    """Raise SpecError when a spec of `size` bytes is over `MAX_SPEC_BYTES`."""
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            SpecProblem(
                "",
                f"the spec is {_size(size)}; a spec file may be at most {_size(MAX_SPEC_BYTES)}",
                file,
                hint="is this the right file? data belongs in the files `data:` names, "
                "not in the spec",
            )
        )


def too_many_values(file: str, line: int | None, column: int | None) -> SpecError:
    """The error for a spec whose aliases expand past `MAX_VALUES`."""
    return SpecError(
        SpecProblem(
            "",
            f"the spec expands to more than {MAX_VALUES:,} values (YAML aliases repeat their "
            "anchor's whole content); refused before building it",
            file,
            line,
            column,
            hint="write the values out, or use fewer nested aliases (`*name`)",
        )
    )


def too_deep(path: str, file: str, line: int | None, column: int | None) -> SpecError:
    """The error for a spec nested deeper than `MAX_DEPTH`."""
    return SpecError(
        SpecProblem(
            path[:200],
            f"the spec nests mappings and lists more than {MAX_DEPTH} levels deep",
            file,
            line,
            column,
            hint="no spec section is that deep: check the indentation and the aliases (`*name`)",
        )
    )


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"
