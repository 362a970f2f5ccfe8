"""One error hierarchy. Only the CLI turns these into exit codes (`etbuilder.cli._common`)."""

from __future__ import annotations

from dataclasses import dataclass


class EtbError(Exception):
    """Base of every error etbuilder raises on purpose."""

    def render(self) -> str:
        """The message shown to the user (may span several lines)."""
        return str(self)


@dataclass(frozen=True)
class SpecProblem:
    """One problem found in a spec: where it is, what is wrong, how to fix it."""

    path: str
    """Dotted path in the spec, e.g. `train.learning_rate` (empty for the whole file)."""
    message: str
    """What is wrong, repeating the user's value."""
    file: str | None = None
    line: int | None = None
    """1-based line in the file, when known."""
    column: int | None = None
    """1-based column in the file, when known."""
    hint: str | None = None
    """How to fix it (`did you mean ...?`, the allowed values)."""

    def render(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.path + ': ' if self.path else ''}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class SpecError(EtbError):
    """The spec is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[SpecProblem] | SpecProblem | str) -> None:
        if isinstance(problems, str):
            problems = [SpecProblem(path="", message=problems)]
        elif isinstance(problems, SpecProblem):
            problems = [problems]
        self.problems: list[SpecProblem] = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        lines = [p.render() for p in self.problems]
        if count > 1:
            lines.append(f"{count} problems in the spec.")
        return "\n".join(lines)


@dataclass
class DataError(EtbError):
    """A data file cannot be read or does not fit the spec."""

    message: str
    file: str | None = None
    row: int | None = None
    """1-based line (csv/tsv/conll/jsonl) or row number in the file."""
    column: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<data>"
        if self.row is not None:
            where += f":{self.row}"
        column = f"column {self.column!r}: " if self.column else ""
        text = f"{where}: {column}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.render()


class BackboneError(EtbError):
    """The backbone cannot be resolved or loaded; the message says what was tried."""


class CompileError(EtbError):
    """A compiler pass found the spec and data incompatible; names the pass."""

    def __init__(self, message: str, pass_name: str | None = None) -> None:
        self.pass_name = pass_name
        super().__init__(f"[{pass_name}] {message}" if pass_name else message)


class RunError(EtbError):
    """A run cannot start or continue (missing run folder, nothing to resume, ...)."""


class TemplateError(EtbError):
    """A gallery template cannot be found or copied (unknown name, a folder in the way)."""


class MissingExtraError(EtbError):
    """An optional dependency is not installed; says which extra brings it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this needs the Python package {module!r}, which is not installed; "
            f"install it with: pip install 'etbuilder[{extra}]'"
        )


class PackageError(EtbError):
    """The app cannot be built from a run (no model, a failed export or parity check)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message + (f"\n    hint: {hint}" if hint else ""))
