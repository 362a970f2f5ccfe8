"""Read a spec file: YAML -> overrides -> model validation -> cross-field rules -> `Spec`.

Every problem found on the way is collected and raised together as one `SpecError`, each located
at its file:line:column (or at the `--set` option that caused it). Relative data paths are
resolved against the spec file's folder, so the returned `Spec` holds absolute paths.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from etbuilder import __version__
from etbuilder.errors import SpecError, SpecProblem
from etbuilder.spec._hints import did_you_mean, show
from etbuilder.spec._problems import problems_from_validation
from etbuilder.spec._yaml import Document, parse_document
from etbuilder.spec.data import DataFile
from etbuilder.spec.limits import MAX_SPEC_BYTES, check_spec_size
from etbuilder.spec.overrides import apply_overrides
from etbuilder.spec.rules import RuleContext, run_rules
from etbuilder.spec.spec import SPEC_VERSIONS, Spec
from etbuilder.spec.strategy import DaptStrategy, DistillStrategy


def load_spec(
    path: str | os.PathLike[str],
    overrides: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Spec:
    """Load and check the spec file at `path`, applying `--set` style `overrides` in order.

    Raises `SpecError` listing every problem found (never another exception for bad input).
    `env` replaces `os.environ` for `${VAR}` interpolation (tests).
    """
    shown = str(path)
    file = Path(path)
    if file.is_dir():
        inside = [p.name for p in sorted(file.glob("*.y*ml"))]
        hint = f"did you mean {os.path.join(shown, inside[0])}?" if inside else None
        raise SpecError(SpecProblem("", "is a folder, not a spec file", shown, hint=hint))
    if not file.exists():
        siblings = [p.name for p in file.parent.glob("*")] if file.parent.is_dir() else []
        hint = did_you_mean(file.name, siblings)
        raise SpecError(SpecProblem("", "no such file", shown, hint=hint))
    try:
        check_spec_size(file.stat().st_size, shown)
        with file.open("rb") as handle:  # at most one byte over the limit, whatever the size
            data = handle.read(MAX_SPEC_BYTES + 1)
        check_spec_size(len(data), shown)
    except OSError as error:
        raise SpecError(SpecProblem("", f"cannot read the file: {error.strerror}", shown)) from None
    if b"\x00" in data:
        raise SpecError(SpecProblem("", "this is a binary file, not a YAML spec", shown))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        message = f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        raise SpecError(SpecProblem("", message, shown, hint="save the file as UTF-8")) from None
    return load_spec_text(
        text, file=shown, base_dir=file.parent, overrides=overrides, env=env, spec_path=file
    )


def check_spec_text(text: str, file: str = "<spec>") -> None:
    """Raise SpecError when YAML `text` is over any of `etbuilder.spec.limits` (size, values
    after alias expansion, nesting) or is not a YAML mapping: the cheap check an editor can run
    on every change, before validating the spec itself with `load_spec_text`."""
    parse_document(text, file, env={})


def load_spec_text(
    text: str,
    file: str = "<spec>",
    base_dir: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    spec_path: str | os.PathLike[str] | None = None,
) -> Spec:
    """Load a spec from YAML `text`; `file` names it in messages, `base_dir` anchors relative
    paths (default: the current folder), `spec_path` is the spec file itself (if any)."""
    if "\x00" in text:
        raise SpecError(SpecProblem("", "this is binary data, not a YAML spec", file))
    document = parse_document(text, file, env)
    apply_overrides(document, overrides, Spec)
    _check_version(document)
    problems = list(document.problems)
    spec: Spec | None = None
    try:
        spec = Spec.model_validate(document.data)
    except ValidationError as error:
        problems.extend(
            p
            for p in problems_from_validation(error, document, Spec)
            if not _inside_any(p.path, document.broken)
        )
    if spec is not None:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        spec = resolve_paths(spec, base)
        public = set(spec.deploy.public_env)
        spec.record_environment(
            {p: names for p, names in document.environment.items() if not set(names) <= public}
        )
        context = RuleContext(
            raw=document.data, spec_path=Path(spec_path).resolve() if spec_path else None
        )
        problems.extend(
            document.problem(f.path, f.message, f.hint, key=f.key) for f in run_rules(spec, context)
        )
    if problems:
        order = {f"--set {text}": index for index, text in enumerate(overrides)}
        raise SpecError(sorted(problems, key=lambda p: _order(p, document, order)))
    assert spec is not None
    return spec


def _inside_any(path: str, reported: set[str]) -> bool:
    """Whether `path` is at or under a path whose YAML was already reported as broken."""
    return any(
        path == known or path.startswith((known + ".", known + "[")) for known in reported if known
    )


def _order(
    problem: SpecProblem, document: Document, overrides: dict[str, int]
) -> tuple[bool, int, int, int]:
    """File problems by position, then `--set` problems in the order the options were given."""
    where = overrides.get(problem.file or "", 0)
    return (problem.file != document.file, where, problem.line or 0, problem.column or 0)


def _check_version(document: Document) -> None:
    version = document.data.get("etb", SPEC_VERSIONS[-1])
    if version in SPEC_VERSIONS or isinstance(version, bool):
        return
    known = ", ".join(str(v) for v in SPEC_VERSIONS)
    if isinstance(version, int) and version > max(SPEC_VERSIONS):
        message = f"spec version {version} is newer than this etbuilder ({__version__}) reads"
        hint = f"upgrade etbuilder, or write the spec for etb: {known}"
    else:
        message = f"{show(version)} is not a spec version"
        hint = f"this etbuilder reads etb: {known}"
    raise SpecError(document.problem(("etb",), message, hint))


def _absolute(path: str, base: Path) -> str:
    if not path or "://" in path:
        return path
    expanded = os.path.expanduser(path)
    return os.path.normpath(os.path.join(os.path.abspath(base), expanded))


def resolve_paths(spec: Spec, base: Path) -> Spec:
    """The spec with relative data, corpus and teacher paths made absolute against `base`."""
    data_update: dict[str, Any] = {}
    for name in ("train", "validation", "test"):
        source = getattr(spec.data, name)
        if isinstance(source, DataFile):
            data_update[name] = source.model_copy(update={"path": _absolute(source.path, base)})
    update: dict[str, Any] = {"data": spec.data.model_copy(update=data_update)}
    strategy = _resolve_strategy(spec.strategy, base)
    if strategy is not spec.strategy:
        update["strategy"] = strategy
    return spec.model_copy(update=update)


def _resolve_strategy(strategy: BaseModel, base: Path) -> Any:
    if isinstance(strategy, DistillStrategy):
        return strategy.model_copy(update={"teacher": _absolute(strategy.teacher, base)})
    if isinstance(strategy, DaptStrategy):
        update: dict[str, Any] = {"then": _resolve_strategy(strategy.then, base)}
        if strategy.corpus:
            update["corpus"] = _absolute(strategy.corpus, base)
        return strategy.model_copy(update=update)
    return strategy
