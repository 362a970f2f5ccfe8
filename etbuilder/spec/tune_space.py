"""The shape of a `tune.space`: which setting each dotted path names, when it is sampled at all
(its conditions), and how sampled values are written into a spec.

A space may choose a union's member (`strategy.type: {choice: [features, lora]}`) and tune knobs
that only some members have (`strategy.r`): such a knob is *conditional*, sampled only in trials
whose choice has it. The rules (`tune_rules`), the compiler's study plan and the tuner all read
the space through this module, so they agree on it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from etbuilder.spec import _walk
from etbuilder.spec.spec import Spec
from etbuilder.spec.tune import Choice, SearchRange

TYPE_KEY = "type"
"""The key that picks a union member (`strategy.type`)."""


@dataclass
class Resolved:
    """Where a search path leads: its setting's annotation, or why it leads nowhere."""

    annotation: Any = None
    conditions: list[tuple[str, list[str]]] = field(default_factory=list)
    """(`strategy.type`, the choices under which this path exists), outermost first."""
    problem: str | None = None
    hint: str | None = None


def tuned_tags(space: dict[str, SearchRange], type_path: str) -> list[str] | None:
    """The member tags a space chooses from at `type_path` (`strategy.type`), if it tunes it."""
    search = space.get(type_path)
    if isinstance(search, Choice):
        return [str(v) for v in search.choice]
    return None


def resolve(spec: Spec, key: str, space: dict[str, SearchRange]) -> Resolved:
    """The setting `key` names in `spec`, walking union members the space itself chooses."""
    parts = key.split(".")
    annotation: Any = Spec
    value: Any = spec
    found = Resolved()
    for index, part in enumerate(parts):
        prefix = ".".join(parts[:index])
        members = _walk.union_models(annotation)
        if part == TYPE_KEY and index == len(parts) - 1 and members:
            found.annotation = Literal[tuple(members)]
            return found
        tags = tuned_tags(space, f"{prefix}.{TYPE_KEY}") if prefix and members else None
        if tags is not None:
            chosen = {t: m for t, m in members.items() if t in tags}
            owners = [t for t, m in chosen.items() if part in m.model_fields]
            if not owners:
                found.problem = f"no choice of {prefix}.{TYPE_KEY} ({', '.join(tags)}) has '{part}'"
                found.hint = _owners_hint(members, part)
                return found
            found.conditions.append((f"{prefix}.{TYPE_KEY}", owners))
            model: type[BaseModel] | None = chosen[owners[0]]
            if isinstance(value, BaseModel) and _walk.tag_of(type(value)) in owners:
                model = type(value)
            else:
                value = None
        else:
            model = type(value) if isinstance(value, BaseModel) else None
            model = model or _walk.choose_model(annotation, {})
        if model is None:
            found.problem = f"{prefix} is a value, it has no key '{part}'"
            return found
        spec_field = model.model_fields.get(part)
        if spec_field is None:
            from etbuilder.spec._hints import did_you_mean

            found.problem = f"no setting '{part}' under {prefix or 'the spec'}"
            found.hint = did_you_mean(part, list(model.model_fields)) or _other_branch_hint(
                annotation, model, part
            )
            return found
        annotation = _walk.field_annotation(spec_field)
        value = getattr(value, part, None) if value is not None else None
    if _walk.is_model(annotation) or _walk.union_models(annotation):
        found.problem = f"{key} is a section; tune one of its keys"
        return found
    found.annotation = annotation
    return found


def _owners_hint(members: dict[str, type[BaseModel]], part: str) -> str:
    owners = [t for t, m in members.items() if part in m.model_fields]
    if owners:
        return f"add {' or '.join(owners)} to the choices"
    return f"no member has '{part}'"


def _other_branch_hint(annotation: Any, model: type[BaseModel], part: str) -> str | None:
    owners = [t for t, m in _walk.union_models(annotation).items() if part in m.model_fields]
    if owners:
        return (
            f"'{part}' is a setting of type {' or '.join(owners)}, not {_walk.tag_of(model)}; "
            "or tune the type too, e.g. {choice: [...]}"
        )
    return f"keys here: {', '.join(model.model_fields)}"


def conditions(spec: Spec) -> dict[str, list[tuple[str, list[str]]]]:
    """Each search path's conditions (empty list: always sampled)."""
    if spec.tune is None:
        return {}
    space = spec.tune.space
    return {key: resolve(spec, key, space).conditions for key in space}


def sampling_order(keys: list[str]) -> list[str]:
    """Member choices (`*.type`) first, outermost first, so knobs see their member chosen."""
    return sorted(keys, key=lambda k: (not k.endswith(f".{TYPE_KEY}"), k.count("."), k))


def applies(conds: list[tuple[str, list[str]]], chosen: dict[str, Any]) -> bool:
    """Whether a path with `conds` is sampled, given the values `chosen` so far."""
    return all(str(chosen.get(path)) in tags for path, tags in conds)


def apply_values(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of spec mapping `data` with `values` (dotted path -> value) written in.

    Choosing another union member (`strategy.type`) keeps only the keys the new member has.
    """
    result = copy.deepcopy(data)
    for key in sampling_order(list(values)):
        parts = key.split(".")
        node = result
        annotation: Any = Spec
        for part in parts[:-1]:
            annotation = _walk.child(annotation, node, part)
            node = node.setdefault(part, {})
        last = parts[-1]
        if last == TYPE_KEY and node.get(TYPE_KEY) != values[key]:
            model = _walk.union_models(annotation).get(str(values[key]))
            kept = {k: v for k, v in node.items() if model is not None and k in model.model_fields}
            node.clear()
            node.update(kept)
        node[last] = values[key]
    return result
