"""Pydantic validation errors turned into located, readable `SpecProblem`s.

A pydantic error location mixes keys of the data with union branch names
(`task.classification.text`, `backbone.max_length.constrained-int`). `_walk_loc` replays the
location on the models to tell them apart; errors of several branches of one union are merged
into one problem saying what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from etbuilder.errors import SpecProblem
from etbuilder.spec import _walk, limits
from etbuilder.spec._hints import did_you_mean, show
from etbuilder.spec._yaml import DataPath, Document, dotted

UNION_NOUNS = {"task": "task", "strategy": "strategy", "then": "strategy to follow dapt"}
"""How a discriminated union at a key is named in messages: `'x' is not a task`."""


@dataclass
class _Union:
    path: DataPath
    annotation: Any
    branch: Any


@dataclass
class _Entry:
    error: ErrorDetails
    path: DataPath
    annotation: Any = None
    """Annotation of the value at `path` (None when unknown)."""
    parent_model: type[BaseModel] | None = None
    """The model whose field is `path[-1]`."""
    parent_union: Any = None
    """The discriminated union `parent_model` was chosen from, if any."""
    unions: list[_Union] = field(default_factory=list)


def problems_from_validation(
    error: ValidationError, document: Document, root: type[BaseModel]
) -> list[SpecProblem]:
    """Every error of `error` as a located problem; union-branch errors merged per place."""
    entries = [_walk_loc(e, root) for e in error.errors(include_url=False)]
    kept: list[_Entry] = [e for e in entries if not e.unions]
    groups: dict[DataPath, list[_Entry]] = {}
    for entry in entries:
        if entry.unions:
            groups.setdefault(entry.unions[0].path, []).append(entry)
    merged: list[SpecProblem] = []
    for union_path, group in groups.items():
        value = _get(document.data, union_path)
        deeper = [
            e
            for e in group
            if len(e.path) > len(union_path) and _shape(e.unions[0].branch) == _shape_of(value)
        ]
        if deeper:
            kept.extend(deeper)
        else:
            merged.append(_merged_problem(union_path, group[0].unions[0].annotation, document))
    shown = kept[: limits.MAX_PROBLEMS]
    problems = [_problem(entry, document) for entry in shown] + merged
    unique: dict[tuple[Any, ...], SpecProblem] = {}
    for problem in problems:
        unique.setdefault((problem.path, problem.message, problem.line), problem)
    if len(kept) > len(shown):
        more = len(kept) - len(shown)
        unique[("", "more", None)] = SpecProblem(
            "",
            f"{more:,} more problems like these are not listed",
            document.file,
            hint="fix the listed ones first, then run again",
        )
    return list(unique.values())


def _get(data: Any, path: DataPath) -> Any:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_dict or in_list):
            return None
        data = data[part]
    return data


def _shape(annotation: Any) -> str:
    base = _walk.info(annotation).base
    origin = get_origin(base)
    if origin in (list, tuple):
        return "list"
    if origin is dict or _walk.is_model(base):
        return "mapping"
    return "scalar"


def _shape_of(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    return "mapping" if isinstance(value, dict) else "scalar"


def _branch(members: list[Any], tag: str) -> Any:
    """The union member pydantic names `tag` in an error location."""
    for member in members:
        member_info = _walk.info(member)
        base = member_info.base
        origin = get_origin(base)
        names = {member_info.tag, getattr(base, "__name__", None)}
        if base in (int, float, str, bool):
            names.add(f"constrained-{base.__name__}")
        if tag in names or (origin is not None and tag.startswith(f"{_origin_name(base)}[")):
            return member
    return None


def _origin_name(base: Any) -> str:
    origin = get_origin(base)
    return "literal" if str(origin).endswith("Literal") else getattr(origin, "__name__", "")


def _walk_loc(error: ErrorDetails, root: type[BaseModel]) -> _Entry:
    """Replay `error`'s location on the models: data path, annotations and unions passed."""
    entry = _Entry(error=error, path=())
    annotation: Any = root
    path: list[str | int] = []
    last_tagged: Any = None
    for part in error["loc"]:
        if annotation is None:
            path.append(part)
            continue
        members = _walk.members(annotation)
        tagged = _walk.union_models(annotation)
        if len(members) > 1 and tagged and str(part) in tagged:
            last_tagged = annotation
            annotation = tagged[str(part)]
            continue
        if len(members) > 1 and isinstance(part, str):
            branch = _branch(members, part)
            entry.unions.append(_Union(tuple(path), annotation, branch))
            annotation = branch
            continue
        base = _walk.info(annotation).base
        entry.parent_model, entry.parent_union = None, None
        if _walk.is_model(base):
            entry.parent_model, entry.parent_union = base, last_tagged
            found = base.model_fields.get(str(part))
            annotation = _walk.field_annotation(found) if found is not None else None
        else:
            annotation = _walk.child(annotation, None, part)
        last_tagged = None
        path.append(part)
    entry.path, entry.annotation = tuple(path), annotation
    return entry


def _merged_problem(path: DataPath, annotation: Any, document: Document) -> SpecProblem:
    value = _get(document.data, path)
    hint = did_you_mean(value, [str(v) for v in _walk.literal_values(annotation)])
    return document.problem(
        path, f"{show(value)} is not allowed; expected {_walk.describe(annotation)}", hint
    )


def _field_doc(entry: _Entry) -> str | None:
    if entry.parent_model is None or not entry.path:
        return None
    found = entry.parent_model.model_fields.get(str(entry.path[-1]))
    return found.description if found is not None else None


def _problem(entry: _Entry, document: Document) -> SpecProblem:
    error, path = entry.error, entry.path
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    expected = _walk.describe(entry.annotation) if entry.annotation is not None else None
    doc = _field_doc(entry)
    hint: str | None
    if kind == "missing":
        hint = f"add `{path[-1]}:` - {doc}" if doc else f"add `{path[-1]}:`"
        message = f"missing required key '{path[-1]}'"
        return document.problem(path, message, hint, key=True, at=path[:-1])
    if kind == "extra_forbidden":
        return document.problem(path, f"unknown key '{path[-1]}'", _extra_hint(entry), key=True)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_problem(entry, document)
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        return _not_mapping(entry, document)
    if kind == "search_range":
        keys = list(value) if isinstance(value, dict) else []
        hint = did_you_mean(keys[0], ["uniform", "log_uniform", "int", "choice"]) if keys else None
        return document.problem(path, f"{show(value)} is not a search range", hint or error["msg"])
    if kind == "literal_error":
        allowed = [str(v) for v in _walk.literal_values(entry.annotation)] or [ctx["expected"]]
        hint = did_you_mean(value, allowed)
        message = f"{show(value)} is not allowed; allowed: {', '.join(allowed)}"
        return document.problem(path, message, hint)
    if kind in _TYPE_WORDS:
        hint = f"expected {expected}" if expected and expected != _TYPE_WORDS[kind] else None
        if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
            hint = f"quote it to make it text: '{value}'"
        return document.problem(path, f"{show(value)} is not {_TYPE_WORDS[kind]}", hint)
    if kind in _BOUNDS:
        limit = ctx.get(_BOUNDS[kind][1])
        message = f"{show(value)} is too {_BOUNDS[kind][0]}: it must be {_BOUNDS[kind][2]} {limit}"
        return document.problem(path, message, doc)
    if kind in ("too_short", "too_long"):
        return document.problem(path, _length_message(value, ctx, entry.annotation), doc)
    if kind == "string_too_short":
        message = "the value is empty" if value == "" else f"{show(value)} is too short"
        return document.problem(path, message, doc or f"expected {expected}")
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return document.problem(path, f"{show(value)} is longer than {limit} characters", doc)
    if kind == "string_pattern_mismatch":
        return document.problem(path, f"{show(value)} is not {expected}", doc)
    if kind in ("value_error", "assertion_error"):
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return document.problem(path, message)
    return document.problem(path, f"{show(value)}: {error['msg']}", f"expected {expected}")


_TYPE_WORDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "finite_number": "a finite number",
    "string_unicode": "text",
}

_BOUNDS = {
    "greater_than": ("small", "gt", "above"),
    "greater_than_equal": ("small", "ge", "at least"),
    "less_than": ("large", "lt", "below"),
    "less_than_equal": ("large", "le", "at most"),
}


def _length_message(value: Any, ctx: dict[str, Any], annotation: Any) -> str:
    count = len(value) if hasattr(value, "__len__") else ctx.get("actual_length")
    base = _walk.info(annotation).base if annotation is not None else None
    if get_origin(base) is tuple:
        return f"{show(value)} has {count} items; it needs exactly {len(get_args(base))}"
    if "min_length" in ctx:
        return f"{show(value)} has {count} items; it needs at least {ctx['min_length']}"
    return f"{show(value)} has {count} items; it takes at most {ctx.get('max_length')}"


def _extra_hint(entry: _Entry) -> str | None:
    key = str(entry.path[-1])
    model = entry.parent_model
    allowed = list(model.model_fields) if model is not None else []
    hint = did_you_mean(key, allowed)
    if hint:
        return hint
    if entry.parent_union is not None and model is not None:
        owners = [
            tag
            for tag, other in _walk.union_models(entry.parent_union).items()
            if key in other.model_fields
        ]
        if owners:
            this = _walk.tag_of(model)
            return f"'{key}' belongs to type {' or '.join(owners)}, not {this}"
    homes = [s for s in _walk.sections_with_key(key) if s != dotted(entry.path[:-1])]
    if homes:
        return f"'{key}' belongs under {' or '.join(h + ':' for h in homes[:3])}"
    return f"allowed here: {', '.join(allowed)}" if allowed else None


def _tag_problem(entry: _Entry, document: Document) -> SpecProblem:
    error, path = entry.error, entry.path
    tags = list(_walk.union_models(entry.annotation)) if entry.annotation is not None else []
    noun = UNION_NOUNS.get(str(path[-1]) if path else "", "known type")
    if error["type"] == "union_tag_not_found":
        return document.problem(
            (*path, "type"),
            "missing required key 'type'",
            f"add `type:` with one of: {', '.join(tags)}",
            key=True,
            at=path,
        )
    tag = (error.get("ctx") or {}).get("tag")
    return document.problem(
        (*path, "type"),
        f"{show(tag)} is not a {noun}; allowed: {', '.join(tags)}",
        did_you_mean(tag, tags),
    )


def _not_mapping(entry: _Entry, document: Document) -> SpecProblem:
    path, value = entry.path, entry.error["input"]
    tags = list(_walk.union_models(entry.annotation)) if entry.annotation is not None else []
    hint: str | None
    if isinstance(value, str) and value in tags and path:
        hint = f"write it as a mapping: `{path[-1]}: {{type: {value}}}`"
    else:
        keys = _walk.allowed_keys(entry.annotation, {}) if entry.annotation is not None else []
        hint = f"expected a mapping with keys such as: {', '.join(keys)}" if keys else None
        if tags:
            hint = f"expected a mapping with `type:` one of: {', '.join(tags)}"
    expected = _walk.describe(entry.annotation) if entry.annotation is not None else "a mapping"
    if expected.startswith("a mapping") or " or " not in expected:
        expected = "a mapping"
    if value is None:
        return document.problem(path, "the section is empty", hint)
    return document.problem(path, f"{show(value)} is not {expected}", hint)
