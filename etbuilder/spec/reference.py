"""Generated documents of the spec language: the JSON Schema and the markdown reference.

Both come from the models (field types, defaults and attribute docstrings), so they cannot drift;
`etb schema` writes them and a test fails when the committed copies are stale.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from etbuilder.spec import _walk, limits
from etbuilder.spec.spec import Spec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://etbuilder.dev/schemas/etb-spec.schema.json"
SCHEMA_TITLE = "etbuilder spec"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of a spec file, for editors and other tools."""
    schema = Spec.model_json_schema()
    schema.pop("title", None)
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, "title": SCHEMA_TITLE, **schema}


def render_json_schema() -> str:
    """`json_schema()` as committed: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_reference() -> str:
    """The markdown reference of every section and key (docs/spec.md)."""
    lines = [
        "# Spec reference",
        "",
        "<!-- Generated from the models in etbuilder/spec/ by "
        "`etb schema --reference docs/spec.md`; do not edit by hand. -->",
        "",
        "Every key an etbuilder spec accepts, section by section: its type, its default and what",
        "it does. Keys marked **required** must be written; the others may be left out. Relative",
        "paths are read from the spec file's folder; `${VAR}` and `${VAR:-default}` in a value",
        "are replaced by environment variables; `etb validate SPEC --set train.epochs=5` overrides",
        "any key from the command line. Editors validate and complete specs with the JSON Schema",
        "in `schemas/etb-spec.schema.json`: put",
        "`# yaml-language-server: $schema=<path to>/schemas/etb-spec.schema.json` on a spec's",
        "first line.",
        "",
        "## Environment variables",
        "",
        "- `${NAME}` in a value is replaced by the variable's value; an unset variable is an error",
        "  that names it. `${NAME:-default}` uses `default` when NAME is unset, and `$${NAME}`",
        "  writes a literal `${NAME}`.",
        "- A plain (unquoted) value that is exactly `${NAME}` is typed as YAML types it (`3` a",
        "  number, `true` a boolean); inside other text or in quotes it stays text.",
        "- The run folder keeps the values (`spec.yaml`, `plan.json`: they stay on the",
        "  machine that ran). The packaged app is meant to be shared, so its manifest, README",
        "  and `/v1/metadata` show `${NAME}` in place of any text value read from a variable",
        "  that `deploy.public_env` does not list (values under 4 characters and numbers are",
        "  not searched for). A default written in the spec is public. `etb plan` lists such",
        "  values under the decision",
        "  `spec.environment`.",
        "",
        "## Limits",
        "",
        f"A spec file may be at most {limits.MAX_SPEC_BYTES // 1024} KiB. YAML aliases (`*name`)",
        f"repeat their anchor's whole content; a spec may expand to at most {limits.MAX_VALUES:,}",
        f"values nested at most {limits.MAX_DEPTH} levels deep, and a spec over these limits is",
        "refused while it is read, before it is built (so a few hundred bytes of nested aliases",
        "cost milliseconds, not gigabytes). At most "
        f"{limits.MAX_PROBLEMS} schema problems are listed one by",
        "one. `etbuilder.spec.limits` holds the numbers; `etbuilder.spec.loader.check_spec_text`",
        "applies them to a text held in memory (an editor's buffer) without validating the spec.",
    ]
    for model, paths, tag in _sections():
        lines += ["", _heading(paths, tag), "", _doc(model), ""]
        lines += ["| Key | Type | Default | Description |", "|---|---|---|---|"]
        for name, field, annotation in _walk.model_field_types(model):
            default = "**required**" if _walk.is_required(field) else _show_default(field)
            lines.append(
                f"| `{name}` | {_cell(_walk.describe(annotation))} | {default} | "
                f"{_cell(field.description or '')} |"
            )
    return "\n".join(lines) + "\n"


def _sections() -> list[tuple[type[BaseModel], list[str], str | None]]:
    """Each model once, with every path it appears at and its union tag, in reading order."""
    found: dict[type[BaseModel], tuple[list[str], str | None]] = {}

    def visit(model: type[BaseModel], path: str, tag: str | None) -> None:
        if model in found:
            found[model][0].append(path)
            return
        found[model] = ([path], tag)
        for name, _, annotation in _walk.model_field_types(model):
            for sub, suffix, sub_tag in _models_in(annotation):
                visit(sub, (f"{path}.{name}" if path else name) + suffix, sub_tag)

    visit(Spec, "", None)
    return [(model, paths, tag) for model, (paths, tag) in found.items()]


def _models_in(annotation: Any) -> Iterator[tuple[type[BaseModel], str, str | None]]:
    for member in _walk.members(annotation):
        member_info = _walk.info(member)
        base = member_info.base
        if _walk.is_model(base):
            tag = member_info.tag or _walk.tag_of(base)
            yield base, "", tag if len(_walk.members(annotation)) > 1 else None
        elif get_origin(base) is dict:
            for sub, suffix, tag in _models_in(get_args(base)[1]):
                yield sub, ".<path>" + suffix, tag
        elif get_origin(base) is list:
            for sub, suffix, tag in _models_in(get_args(base)[0]):
                yield sub, "[]" + suffix, tag


def _heading(paths: list[str], tag: str | None) -> str:
    if not paths[0]:
        return "## Top level"
    where = ", ".join(f"`{p}`" for p in paths)
    if tag is None:
        return f"## {where}"
    is_type = all(p.split(".")[-1] != "<path>" for p in paths) and tag.isidentifier()
    form = f"`type: {tag}`" if is_type and not paths[0].startswith("tune.") else f"`{tag}:`"
    return f"## {where} with {form}"


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "").replace("\n", " ")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _show_default(field: Any) -> str:
    value = _walk.field_default(field)
    if isinstance(value, BaseModel):
        tag = getattr(value, "type", None)
        return f"`{{type: {tag}}}`" if tag else "(defaults below)"
    return f"`{_flow(value)}`"


def _flow(value: Any) -> str:
    if value == "":
        return '""'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}" if "e" not in f"{value:g}" else f"{value:.1e}"
    return str(value)
