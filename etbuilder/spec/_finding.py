"""The shape of a cross-field rule: what it gets and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etbuilder.spec._yaml import DataPath

if TYPE_CHECKING:
    from etbuilder.spec.spec import Spec


@dataclass(frozen=True)
class Finding:
    """One cross-field problem: the path it is about, what is wrong and how to fix it."""

    path: DataPath
    message: str
    hint: str | None = None
    key: bool = False
    """Point at the key rather than its value."""


@dataclass(frozen=True)
class RuleContext:
    """What a rule may look at besides the validated spec."""

    raw: dict[str, Any] = field(default_factory=dict)
    """The data as written (after overrides), before defaults were filled in."""
    spec_path: Path | None = None
    """The spec file itself (absolute), when the spec came from a file."""


Rule = Callable[["Spec", RuleContext], list[Finding]]
"""A rule: the validated spec and its context in, findings out (empty when all is well)."""
