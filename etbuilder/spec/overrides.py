"""`--set a.b=c` overrides: dotted paths into the spec, values typed by the schema.

A value is read as a YAML scalar or flow collection (`5`, `true`, `null`, `[a, b]`, `{int: [1, 4]}`)
unless the field takes a string, where the text is kept as written (`--set name=007` stays
`"007"`). Paths are checked against the models before anything is applied, so a typo gets a
"did you mean" instead of an error about the spec file; every problem is located at its `--set`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_origin

import yaml
from pydantic import BaseModel

from etbuilder.errors import SpecProblem
from etbuilder.spec import _walk
from etbuilder.spec._hints import did_you_mean
from etbuilder.spec._yaml import DataPath, Document, Location, dotted, load_value


def apply_overrides(document: Document, overrides: Sequence[str], root: type[BaseModel]) -> None:
    """Apply each `KEY=VALUE` to `document.data`; problems go to `document.problems`.

    Overrides apply in the order given, except that those choosing a union branch (`...type=`)
    go first, so `--set strategy.r=4 --set strategy.type=lora` works like the reverse order.
    """
    for text in sorted(overrides, key=lambda t: not _chooses_branch(t)):
        _apply_one(document, text, root)


def _chooses_branch(text: str) -> bool:
    key = text.partition("=")[0].strip()
    return key == "type" or key.endswith(".type")


def _apply_one(document: Document, text: str, root: type[BaseModel]) -> None:
    where = Location(f"--set {text}")
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        _fail(document, where, (), f"'{text}' is not KEY=VALUE", "e.g. --set train.epochs=5")
        return
    target = _target(document, where, key.split("."), root)
    if target is None:
        return
    path, annotation = target
    try:
        value = parse_value(raw, annotation)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or "cannot be parsed"
        _fail(document, where, path, f"cannot read the value {raw!r}: {problem}")
        return
    _assign(document, path, value, where)


def parse_value(raw: str, annotation: Any) -> Any:
    """The text after `=` as the field's type wants it (raw text for string fields)."""
    members = [_walk.info(m).base for m in _walk.members(annotation)]
    if str in members:
        if raw.strip() in ("null", "~", "") and _walk.accepts_none(annotation):
            return None
        try:
            parsed = load_value(raw)
        except yaml.YAMLError:
            return raw
        return parsed if isinstance(parsed, list | dict) and len(members) > 1 else raw
    return load_value(raw)


def _target(
    document: Document, where: Location, parts: list[str], root: type[BaseModel]
) -> tuple[DataPath, Any] | None:
    """The data path and field annotation named by dotted `parts`, or None after a problem."""
    annotation: Any = root
    data: Any = document.data
    default: Any = None
    path: list[str | int] = []
    for index, part in enumerate(parts):
        base = _walk.info(annotation).base
        if get_origin(base) is dict:
            return (*path, ".".join(parts[index:])), _walk.child(annotation, {}, "x")
        current = data if isinstance(data, dict) else {}
        model = _walk.choose_model(annotation, current) or _walk.choose_model(annotation, default)
        if model is None:
            if not _walk.is_model(base) and not _walk.union_models(annotation):
                message = f"{dotted(tuple(path))} is a value, not a section"
                _fail(document, where, tuple(path), message, f"use --set {dotted(tuple(path))}=...")
                return None
            hint = f"set {dotted((*path, 'type'))} first"
            _fail(document, where, tuple(path), "cannot tell which type this section is", hint)
            return None
        field = model.model_fields.get(part)
        if field is None or not part:
            allowed = list(model.model_fields)
            hint = did_you_mean(part, allowed) or f"allowed here: {', '.join(allowed)}"
            _fail(document, where, (*path, part), f"unknown key '{part}'", hint)
            return None
        path.append(part)
        annotation = _walk.field_annotation(field)
        data = current.get(part)
        default = _walk.field_default(field) if not _walk.is_required(field) else None
    return tuple(path), annotation


def _assign(document: Document, path: DataPath, value: Any, where: Location) -> None:
    data = document.data
    for part in path[:-1]:
        if not isinstance(data.get(part), dict):
            data[part] = {}
        data = data[part]
    data[path[-1]] = value
    for table in (document.values, document.keys):
        for known in [p for p in table if p[: len(path)] == path]:
            del table[known]
    document.values[path] = where
    document.keys[path] = where


def _fail(
    document: Document, where: Location, path: DataPath, message: str, hint: str | None = None
) -> None:
    document.problems.append(SpecProblem(dotted(path), message, where.file, None, None, hint))
