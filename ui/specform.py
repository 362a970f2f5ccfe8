"""Form fields generated from the spec's JSON Schema (`etb schema`), and edits of a spec dict.

The studio draws one widget per field the schema declares, with the field's own description
as help; a tagged section (task, strategy) shows only the fields of the variant its `type`
names. Edits go through `set_value`, which writes a key only when it differs from the default
(or was already written), so the YAML the studio saves stays as short as a hand-written one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from etbuilder.spec.reference import json_schema

SECTIONS = ("data", "task", "backbone", "strategy", "train", "tune", "compute", "deploy")
"""Spec sections in the order the Configure page shows them."""

BASIC = (
    "name",
    "description",
    "task.type",
    "task.text",
    "task.label",
    "backbone.model",
    "strategy.type",
    "train.epochs",
    "train.batch_size",
    "train.learning_rate",
)
"""Fields of the basic view; the advanced view shows every field of every section."""

TITLES = {
    "task.type": "Task",
    "task.text": "Text column(s)",
    "task.label": "Label column",
    "strategy.type": "Strategy",
    "backbone.model": "Pretrained model",
    "train.epochs": "Epochs (passes over the data)",
    "train.batch_size": "Batch size",
    "train.learning_rate": "Learning rate",
}
"""Titles clearer than the schema's where a field is shown out of its section."""


@dataclass(frozen=True)
class Field:
    """One editable spec key."""

    path: str
    """Dotted path, e.g. `train.epochs`."""
    title: str
    kind: str
    """bool, choice, int or text (any other value, written and read as YAML)."""
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] = field(default_factory=tuple)
    required: bool = False


@cache
def schema() -> dict[str, Any]:
    return json_schema()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        resolved = schema()["$defs"][ref.rsplit("/", 1)[-1]]
        return {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _variants(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`type` value -> object schema, for a tagged union (task, strategy)."""
    mapping = node.get("discriminator", {}).get("mapping", {})
    return {tag: _resolve({"$ref": ref}) for tag, ref in mapping.items()}


def _non_null(node: dict[str, Any]) -> list[dict[str, Any]]:
    options = node.get("anyOf") or node.get("oneOf") or [node]
    return [_resolve(o) for o in options if o.get("type") != "null"]


def _kind(node: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    options = _non_null(node)
    nullable = len(options) < len(node.get("anyOf") or node.get("oneOf") or [node])
    if len(options) == 1:
        only = options[0]
        if only.get("type") == "integer":  # unset (None) shows as an empty text box: auto
            return "int", ()
        if nullable:
            return "text", ()
        if "enum" in only:
            return "choice", tuple(only["enum"])
        if only.get("type") == "boolean":
            return "bool", ()
    return "text", ()


def _title(name: str, node: dict[str, Any]) -> str:
    return str(node.get("title") or name.replace("_", " ").capitalize())


def section_node(section: str) -> dict[str, Any]:
    return _resolve(schema()["properties"][section])


def variant_types(section: str) -> list[str]:
    """The `type` values of a tagged section (task, strategy); empty for the others."""
    return sorted(_variants(section_node(section)))


def fields(section: str, data: dict[str, Any]) -> list[Field]:
    """The fields of `section` given the spec `data` (its `type` picks a tagged variant)."""
    if section not in schema()["properties"]:
        raise KeyError(section)
    node = schema()["properties"][section]
    if section not in SECTIONS:
        kind, choices = _kind(node)
        title, default = _title(section, node), node.get("default")
        return [Field(section, title, kind, default, node.get("description", ""), choices)]
    current = data.get(section) if isinstance(data.get(section), dict) else {}
    variants = _variants(node)
    if variants:
        tag = current.get("type") if isinstance(current, dict) else None
        if tag not in variants:
            tag = sorted(variants)[0] if section == "task" else "finetune"
        body = variants.get(tag) or next(iter(variants.values()))
        type_field = Field(
            f"{section}.type",
            TITLES.get(f"{section}.type", "Type"),
            "choice",
            tag,
            str(node.get("description", "")),
            tuple(sorted(variants)),
            True,
        )
    else:
        options = _non_null(node)
        body = options[0] if options else {}
        type_field = None
    required = set(body.get("required", ()))
    out = [type_field] if type_field else []
    for name, sub in body.get("properties", {}).items():
        if name == "type" and type_field:
            continue
        sub = _resolve(sub) if "$ref" in sub else sub
        kind, choices = _kind(sub)
        out.append(
            Field(
                f"{section}.{name}",
                TITLES.get(f"{section}.{name}") or _title(name, sub),
                kind,
                sub.get("default"),
                str(sub.get("description", "")),
                choices,
                name in required,
            )
        )
    return out


def all_fields(data: dict[str, Any]) -> dict[str, Field]:
    """Every field of the spec given `data`, by path."""
    found: dict[str, Field] = {}
    for top in ("name", "description"):
        found.update({f.path: f for f in fields(top, data)})
    for section in SECTIONS:
        found.update({f.path: f for f in fields(section, data)})
    return found


_MISSING = object()


def get_value(data: dict[str, Any], path: str, default: Any = None) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_value(data: dict[str, Any], path: str, value: Any, default: Any = _MISSING) -> None:
    """Write `value` at `path`; a value equal to `default` that was not written is left out,
    and empty sections are removed."""
    parts = path.split(".")
    present = get_value(data, path, _MISSING) is not _MISSING
    if not present and default is not _MISSING and value == default:
        return
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if value is None and not present:
        return
    if parts[0] in ("task", "strategy") and parts[1:] == ["type"] and node.get("type") != value:
        node.clear()  # another variant: its old knobs do not apply
    node[parts[-1]] = value


def show(value: Any) -> str:
    """A value as the text widget shows it (YAML flow style, no document end)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return (
        str(yaml.safe_dump(value, default_flow_style=True, width=10_000))
        .strip()
        .removesuffix("...")
        .strip()
    )


def parse(text: str) -> Any:
    """What the user typed in a text widget, read as YAML (`5e-5` a number, `[a, b]` a list)."""
    if not text.strip():
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads `1e-4` as a string; the user meant a number
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_text(text: str) -> dict[str, Any] | None:
    """The spec dict of YAML `text`, or None when it does not parse to a mapping."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def dump(data: dict[str, Any]) -> str:
    """The spec as YAML, keys in the order of the language (etb, name, data, task, ...)."""
    order = ["etb", "name", "description", *SECTIONS]
    ordered = {k: data[k] for k in order if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    return str(yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100))


def with_header(old_text: str, new_text: str) -> str:
    """`new_text` under the comment lines that opened `old_text` (a template's explanation and
    its schema line survive a form edit; comments inside the YAML do not)."""
    header: list[str] = []
    for line in old_text.splitlines():
        if line.startswith("#") or (header and not line.strip()):
            header.append(line)
            continue
        break
    while header and not header[-1].strip():
        header.pop()
    return "\n".join(header) + "\n" + new_text if header else new_text
