"""YAML text to plain Python data plus the location of every key and value in it.

PyYAML's `safe_load` throws the marks away and silently keeps the last of two duplicate keys, so
the spec loader composes the node tree (safe tags only) and converts it itself: that is where
duplicate keys, `${ENV}` interpolation and unsupported tags become located problems.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from etbuilder.errors import SpecError, SpecProblem
from etbuilder.spec import limits

DataPath = tuple[str | int, ...]
"""A path into the data: mapping keys and list indices."""


class _DepthLimitedLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, refusing nesting deeper than libyaml's own limit
    (it would otherwise recurse until Python's recursion limit)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > _COMPOSE_DEPTH:
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, "exceeded maximum nesting depth", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_COMPOSE_DEPTH = 200
"""Nesting the Python loader composes (libyaml stops at 1000; the converter allows far less)."""
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", _DepthLimitedLoader)
"""libyaml's safe loader when PyYAML has it (about 10x faster to compose), else the Python one."""
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_ENV = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
"""`5e-5`: a float in YAML 1.2 and in every user's head, a string to PyYAML (YAML 1.1)."""


@dataclass(frozen=True)
class Location:
    """Where something was written: a file and 1-based line and column, or a `--set` option."""

    file: str
    line: int | None = None
    column: int | None = None


@dataclass
class Document:
    """Data read from YAML, with where each value and each key starts."""

    data: Any
    file: str
    values: dict[DataPath, Location] = field(default_factory=dict)
    keys: dict[DataPath, Location] = field(default_factory=dict)
    problems: list[SpecProblem] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    """Dotted paths whose YAML value could not be read (already reported; read as null)."""
    environment: dict[str, list[str]] = field(default_factory=dict)
    """Dotted path -> the environment variables whose values were interpolated there."""

    def locate(self, path: DataPath, key: bool = False) -> Location:
        """Location of the value (or of its key) at `path`, else of the nearest enclosing one."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.values.get(path[:end])
            if found is not None:
                return found
        return Location(self.file, 1, 1)

    def problem(
        self,
        path: DataPath,
        message: str,
        hint: str | None = None,
        key: bool = False,
        at: DataPath | None = None,
    ) -> SpecProblem:
        """A problem about `path`, located there (or at `at`), at the key when `key`."""
        where = self.locate(path if at is None else at, key=key)
        return SpecProblem(
            path=dotted(path),
            message=message,
            file=where.file,
            line=where.line,
            column=where.column,
            hint=hint,
        )


def dotted(path: DataPath) -> str:
    """`train.learning_rate`, `deploy.formats[1]`, `tune.space["train.learning_rate"]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text


def _mark(node: Node, file: str) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def parse_document(
    text: str,
    file: str,
    env: Mapping[str, str] | None = None,
    *,
    loader_class: type[yaml.SafeLoader] | None = None,
) -> Document:
    """Parse YAML `text` safely; raise SpecError for text that is not a YAML mapping, or that is
    or expands to more than `limits` allow. `loader_class`: a PyYAML loader (tests)."""
    limits.check_spec_size(len(text.encode("utf-8", "surrogatepass")), file)
    try:
        loader = (loader_class or _LOADER)(text)
    except yaml.reader.ReaderError as error:
        raise SpecError(_reader_problem(error, text, file)) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.reader.ReaderError as error:
            raise SpecError(_reader_problem(error, text, file)) from None
        except yaml.MarkedYAMLError as error:
            raise SpecError(_syntax_problem(error, file, text)) from None
        except yaml.YAMLError as error:
            raise SpecError(SpecProblem("", f"not valid YAML: {error}", file=file)) from None
        except RecursionError:
            raise SpecError(
                SpecProblem(
                    "",
                    "not valid YAML: exceeded maximum nesting depth",
                    file=file,
                    hint="no spec section is that deep: check the brackets and the indentation",
                )
            ) from None
        if root is None:
            raise SpecError(
                SpecProblem("", "the spec is empty; it needs at least name, data and task", file)
            )
        if not isinstance(root, MappingNode):
            found = "a list" if isinstance(root, SequenceNode) else "a single value"
            where = _mark(root, file)
            raise SpecError(
                SpecProblem(
                    "",
                    f"the spec must be a mapping of sections (name:, data:, task:, ...); "
                    f"found {found}",
                    file=file,
                    line=where.line,
                    column=where.column,
                )
            )
        document = Document(data=None, file=file)
        converter = _Converter(loader, document, os.environ if env is None else env)
        document.data = converter.convert(root, ())
        document.values[()] = Location(file, 1, 1)
        return document
    finally:
        loader.dispose()


def _reader_problem(error: yaml.reader.ReaderError, text: str, file: str) -> SpecProblem:
    before = text[: error.position]
    line = before.count("\n") + 1
    column = error.position - (before.rfind("\n") + 1) + 1
    message = f"not valid YAML: the control character U+{error.character:04X} is not allowed"
    return SpecProblem("", message, file, line, column, "remove it or write it as an escape")


def _tab_near(text: str, line: int) -> bool:
    """Whether the indentation of line `line` (0-based) or of the line before holds a tab."""
    lines = text.split("\n")
    for index in (line, line - 1):
        if 0 <= index < len(lines):
            body = lines[index]
            if "\t" in body[: len(body) - len(body.lstrip(" \t"))]:
                return True
    return False


def _syntax_problem(error: yaml.MarkedYAMLError, file: str, text: str = "") -> SpecProblem:
    mark = error.problem_mark or error.context_mark
    what = error.problem or error.context or "cannot be parsed"
    if error.context and error.problem and "while" not in error.context:
        what = f"{error.context}: {error.problem}"
    opened = error.context_mark
    if error.context and opened and mark and opened.line != mark.line:
        what += (
            f" ({error.context.removeprefix('while parsing ')} started on line {opened.line + 1})"
        )
    hint = None
    tabbed = "\t" in what or "'\\t'" in what or re.search(r"\btab", what)
    if tabbed or (mark and _tab_near(text, mark.line)):
        hint = "YAML indents with spaces, not tabs: replace the tabs at the start of the line"
    if "maximum nesting depth" in what:
        hint = "no spec section is that deep: check the brackets and the indentation"
    return SpecProblem(
        path="",
        message=f"not valid YAML: {what}",
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        hint=hint,
    )


class _Converter:
    """Turns the node tree into dicts, lists and scalars, recording locations and problems."""

    def __init__(self, loader: yaml.SafeLoader, document: Document, env: Mapping[str, str]):
        self.loader = loader
        self.document = document
        self.env = env
        self.active: set[int] = set()
        self.values = 0

    def convert(self, node: Node, path: DataPath) -> Any:
        self.values += 1
        if self.values > limits.MAX_VALUES:
            where = _mark(node, self.document.file)
            raise limits.too_many_values(where.file, where.line, where.column)
        if len(path) > limits.MAX_DEPTH:
            where = _mark(node, self.document.file)
            raise limits.too_deep(dotted(path[:8]) + "...", where.file, where.line, where.column)
        self.document.values.setdefault(path, _mark(node, self.document.file))
        if id(node) in self.active:
            self._problem(node, path, "an alias refers to itself; YAML recursion is not allowed")
            self.document.broken.add(dotted(path))
            return None
        if isinstance(node, MappingNode | SequenceNode) and node.tag not in _COLLECTION_TAGS:
            self._problem(node, path, f"unsupported YAML value: the tag {node.tag} is not allowed")
            self.document.broken.add(dotted(path))
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _problem(self, node: Node, path: DataPath, message: str, hint: str | None = None) -> None:
        where = _mark(node, self.document.file)
        self.document.problems.append(
            SpecProblem(dotted(path), message, where.file, where.line, where.column, hint)
        )

    def _mapping(self, node: MappingNode, path: DataPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        explicit: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge(value_node, path, result)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, path, "a key must be a plain name, not a list or mapping")
                continue
            key = str(key_node.value)
            if key in first_seen:
                line = first_seen[key].start_mark.line + 1
                self._problem(
                    key_node,
                    (*path, key),
                    f"duplicate key '{key}' (first written on line {line})",
                    "YAML would silently keep only the last one; remove one of them",
                )
            first_seen[key] = key_node
            explicit.append((key, key_node, value_node))
        for key, key_node, value_node in explicit:
            self.document.keys[(*path, key)] = _mark(key_node, self.document.file)
            self.document.values[(*path, key)] = _mark(value_node, self.document.file)
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _merge(self, node: Node, path: DataPath, into: dict[str, Any]) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            value = self.convert(source, path)
            if isinstance(value, dict):
                for key, item in value.items():
                    into.setdefault(key, item)
            else:
                self._problem(source, path, "`<<:` merges only mappings")

    def _scalar(self, node: Node, path: DataPath) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error)
            self._problem(node, path, f"unsupported YAML value: {problem}")
            self.document.broken.add(dotted(path))
            return None
        if isinstance(value, str) and node.tag == _STR_TAG and isinstance(node, ScalarNode):
            plain = not node.style  # None (Python parser) or "" (libyaml) for plain scalars
            if plain and _EXPONENT_FLOAT.match(value):
                return float(value)
            if "${" in value:
                return self._interpolate(value, node, path, plain)
        return value

    def _interpolate(self, text: str, node: Node, path: DataPath, plain: bool) -> Any:
        missing: list[str] = []
        used: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            escaped, name, default = match.groups()
            if escaped:
                return match.group(0)[1:]
            if name in self.env:
                used.append(name)
                return self.env[name]
            if default is not None:
                return default
            missing.append(name)
            return match.group(0)

        result = _ENV.sub(substitute, text)
        if used:
            self.document.environment[dotted(path)] = sorted(set(used))
        for name in missing:
            self._problem(
                node,
                path,
                f"environment variable {name} is not set",
                f"set it, or give a default: ${{{name}:-value}}",
            )
        whole = _ENV.fullmatch(text)
        if plain and whole and not whole.group(1) and not missing:
            return _typed_scalar(result)
        return result


def load_value(text: str) -> Any:
    """One YAML value (scalar or flow collection) read as spec files are read (`5e-5` a float).

    Raises `yaml.YAMLError` when the text is not YAML; values that cannot be read become None.
    """
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _Converter(loader, Document(data=None, file="<value>"), {}).convert(node, ())
    finally:
        loader.dispose()


def _typed_scalar(text: str) -> Any:
    """A plain YAML scalar typed as YAML types it (`3` -> 3, `true` -> True, `5e-5` -> 5e-05)."""
    if _EXPONENT_FLOAT.match(text.strip()):
        return float(text)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, bool | int | float | str) or value is None else text
