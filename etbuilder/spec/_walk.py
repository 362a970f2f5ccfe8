"""Introspection of the spec models: which keys are allowed where, and how to describe a type.

The loader, the `--set` overrides, the cross-field rules and the reference generator all need to
walk the pydantic models along a path of the user's data, choosing union branches the way pydantic
does (by the `type` key, or by a custom discriminator). This module is that walk, in one place.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, Discriminator, Field, Tag
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from etbuilder.spec._base import DURATION_PATTERN, NAME_PATTERN

NoneType = type(None)


@dataclass(frozen=True)
class TypeInfo:
    """An annotation split into its bare type, its constraints and its union discriminator."""

    base: Any
    """The type without `Annotated` layers (may itself be a union)."""
    metadata: tuple[Any, ...] = ()
    """Constraints and validators from every `Annotated` layer and from `Field(...)`."""

    @property
    def discriminator(self) -> str | Discriminator | None:
        for item in self.metadata:
            if isinstance(item, Discriminator):
                return item
            if isinstance(item, FieldInfo) and item.discriminator is not None:
                return item.discriminator
        return None

    @property
    def tag(self) -> str | None:
        return next((m.tag for m in self.metadata if isinstance(m, Tag)), None)

    def constraint(self, name: str) -> Any:
        """The value of `ge`, `gt`, `le`, `lt`, `min_length`, `max_length` or `pattern`."""
        for item in self.metadata:
            if isinstance(item, FieldInfo):
                found = TypeInfo(NoneType, tuple(item.metadata)).constraint(name)
                if found is not None:
                    return found
            value = getattr(item, name, None)
            if value is not None and not callable(value):
                return value
        return None


def info(annotation: Any) -> TypeInfo:
    """Strip `Annotated` layers (collecting their metadata) and drop `None` from a union."""
    metadata: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        metadata.extend(extra)
    if is_union(annotation):
        members = [m for m in get_args(annotation) if m is not NoneType]
        if len(members) == 1:
            inner = info(members[0])
            return TypeInfo(inner.base, (*metadata, *inner.metadata))
    return TypeInfo(annotation, tuple(metadata))


def is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def accepts_none(annotation: Any) -> bool:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation is NoneType or (is_union(annotation) and NoneType in get_args(annotation))


def members(annotation: Any) -> list[Any]:
    """Union members other than `None` (each with its `Annotated` metadata), or `[annotation]`."""
    base = info(annotation).base
    if is_union(base):
        return [m for m in get_args(base) if m is not NoneType]
    return [annotation]


def is_model(annotation: Any) -> bool:
    base = info(annotation).base
    return isinstance(base, type) and issubclass(base, BaseModel)


def field_annotation(field: FieldInfo) -> Any:
    """The field's annotation with its constraints and discriminator put back as `Annotated`."""
    extra: list[Any] = list(field.metadata)
    if field.discriminator is not None:
        extra.append(Field(discriminator=field.discriminator))
    return Annotated[(field.annotation, *extra)] if extra else field.annotation


def literal_values(annotation: Any) -> list[Any]:
    """Every value a `Literal` (or a union of them) allows; empty for other types."""
    values: list[Any] = []
    for member in members(annotation):
        base = info(member).base
        if get_origin(base) is Literal:
            values.extend(get_args(base))
    return values


def tag_of(model: type[BaseModel]) -> str | None:
    """The `type` literal of a union member model, if it has one."""
    field = model.model_fields.get("type")
    if field is not None and get_origin(field.annotation) is Literal:
        return str(get_args(field.annotation)[0])
    return None


def union_models(annotation: Any) -> dict[str, type[BaseModel]]:
    """The models of a discriminated union by their tag (empty when it is not one)."""
    found: dict[str, type[BaseModel]] = {}
    for member in members(annotation):
        member_info = info(member)
        if not is_model(member_info.base):
            continue
        tag = member_info.tag or tag_of(member_info.base)
        if tag is not None:
            found[tag] = member_info.base
    return found if len(found) > 1 else {}


def choose_model(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The model a mapping `value` validates as under `annotation`, picking union branches."""
    annotation_info = info(annotation)
    if is_model(annotation_info.base):
        return typing.cast(type[BaseModel], annotation_info.base)
    tagged = union_models(annotation)
    if tagged:
        discriminator = annotation_info.discriminator
        tag: Any = None
        if isinstance(discriminator, Discriminator) and callable(discriminator.discriminator):
            try:
                tag = discriminator.discriminator(value)
            except Exception:
                tag = None
        elif isinstance(value, dict):
            tag = value.get(discriminator if isinstance(discriminator, str) else "type")
        elif isinstance(value, BaseModel):
            tag = getattr(value, "type", None)
        return tagged.get(str(tag)) if tag is not None else None
    models = [info(m).base for m in members(annotation) if is_model(m)]
    return models[0] if len(models) == 1 else None


def child(annotation: Any, value: Any, key: str | int) -> Any | None:
    """The annotation of `value[key]` when `value` is validated as `annotation`; None if unknown."""
    model = choose_model(annotation, value) if isinstance(value, dict | BaseModel) else None
    if model is not None:
        field = model.model_fields.get(str(key))
        return field_annotation(field) if field is not None else None
    for member in members(annotation):
        member_base = info(member).base
        origin = get_origin(member_base)
        if origin is list and isinstance(key, int):
            return get_args(member_base)[0]
        if origin is tuple and isinstance(key, int):
            args = get_args(member_base)
            return args[min(key, len(args) - 1)] if args else None
        if origin is dict and isinstance(key, str):
            return get_args(member_base)[1]
    return None


def allowed_keys(annotation: Any, value: Any) -> list[str]:
    """The keys a mapping may hold at this place (empty when unknown or free-form)."""
    model = choose_model(annotation, value)
    return list(model.model_fields) if model is not None else []


def sections_with_key(key: str) -> list[str]:
    """Dotted sections of the spec that have a key named `key`: plain sections before those of
    one union branch (`train` before `strategy` for `learning_rate`), shallowest first."""
    from etbuilder.spec.spec import Spec

    found: list[tuple[bool, str]] = []
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[type[BaseModel], str, bool]] = [(Spec, "", False)]
    while queue:
        model, path, branch = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        if key in model.model_fields and path and (branch, path) not in found:
            found.append((branch, path))
        for name, field in model.model_fields.items():
            options = [m for m in members(field_annotation(field)) if is_model(m)]
            for member in options:
                child_path = f"{path}.{name}" if path else name
                queue.append((info(member).base, child_path, branch or len(options) > 1))
    return [path for _, path in sorted(found, key=lambda item: item[0])]


def model_field_types(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo, Any]]:
    """(name, field, annotation with constraints) for each field of a model, in order."""
    for name, field in model.model_fields.items():
        yield name, field, field_annotation(field)


def field_default(field: FieldInfo) -> Any:
    """The field's default value (calling its factory); `PydanticUndefined` when required."""
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def is_required(field: FieldInfo) -> bool:
    return field.default is PydanticUndefined and field.default_factory is None


_SCALARS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_PATTERNS = {
    DURATION_PATTERN: "a duration such as 90s, 10m or 1.5h",
    NAME_PATTERN: "a name of letters, digits, `.`, `_` and `-`",
}
_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}


def describe(annotation: Any, plural: bool = False) -> str:
    """A short English description of what a value of this type may be."""
    type_info = info(annotation)
    base = type_info.base
    for item in type_info.metadata:
        if (
            isinstance(item, BeforeValidator)
            and item.json_schema_input_type is not PydanticUndefined
        ):
            return describe(item.json_schema_input_type, plural)
    text: str
    if base is NoneType:
        text = "null"
    elif is_union(base):
        tagged = union_models(annotation)
        if tagged and all(tag_of(m) for m in tagged.values()):
            text = "a mapping with `type:` " + ", ".join(tagged)
        elif tagged:
            text = "one of " + ", ".join("{" + tag + ": ...}" for tag in tagged)
        elif set(get_args(base)) - {NoneType} <= set(_SCALARS):
            text = "a number, a string or true/false"
        else:
            text = " or ".join(describe(m, plural) for m in members(annotation))
    elif get_origin(base) is Literal:
        values = [str(v) for v in get_args(base)]
        if len(values) == 1:
            text = values[0]
        else:
            text = ("values from: " if plural else "one of ") + ", ".join(values)
    elif base is str and type_info.constraint("pattern") in _PATTERNS:
        text = _PATTERNS[type_info.constraint("pattern")]
    elif base is str and type_info.constraint("max_length") == 1:
        text = "a single character"
    elif base in _SCALARS:
        text = (_PLURALS if plural else _SCALARS)[base] + _bounds(type_info)
    elif get_origin(base) is list:
        text = "a list of " + describe(get_args(base)[0], plural=True)
    elif get_origin(base) is tuple:
        items = get_args(base)
        text = f"a list of {len(items)} " + describe(items[0], plural=True)
    elif get_origin(base) is dict:
        text = "a mapping of names to " + describe(get_args(base)[1], plural=True)
    elif is_model(base):
        text = "a mapping"
    else:
        text = getattr(base, "__name__", str(base))
    if accepts_none(annotation) and base is not NoneType and not text.endswith("null"):
        text += " or null"
    return text


def _bounds(type_info: TypeInfo) -> str:
    parts = []
    for name, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        value = type_info.constraint(name)
        if value is not None:
            parts.append(f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}")
    if type_info.constraint("min_length") == 1 and type_info.base is str:
        parts.append("not empty")
    return " (" + ", ".join(parts) + ")" if parts else ""
