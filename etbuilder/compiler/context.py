"""The immutable state the compiler passes hand to each other.

Each pass takes a `CompileContext` and returns a new one (`dataclasses.replace`); nothing is
mutated in place, so a pass can be tested on its own with a hand-built context.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from etbuilder.data import Examples
from etbuilder.plan import (
    BackboneInfo,
    ComputePlan,
    Decision,
    DeployPlan,
    Estimates,
    HardwareInfo,
    Plan,
    PlanWarning,
    PrecisionPlan,
    SchedulePlan,
    SplitProfile,
    SplitRecipe,
    SplitSource,
    StrategyPlan,
    TaskPlan,
    TunePlan,
)
from etbuilder.spec import Spec

Source = Literal["spec", "default", "inferred"]


@dataclass(frozen=True)
class TokenLengths:
    """Token lengths of one split's examples (all of them, or a deterministic sample)."""

    split: str
    lengths: tuple[int, ...]
    population: int
    """Examples of the split the sample stands for."""

    def count_over(self, limit: int) -> int:
        """Examples of the whole split longer than `limit` (scaled up from a sample)."""
        if not self.lengths:
            return 0
        over = sum(1 for n in self.lengths if n > limit)
        return round(over * self.population / len(self.lengths))

    @property
    def sampled(self) -> bool:
        return len(self.lengths) < self.population


@dataclass(frozen=True)
class CompileContext:
    """The spec plus everything the passes run so far produced."""

    spec: Spec
    hardware: HardwareInfo
    spec_path: Path | None = None
    teacher_plan: Plan | None = None
    """The plan of a distill teacher given as a spec (compiled first, by `compile_spec`)."""
    """The spec file, when known: relative data paths resolve against its folder."""
    backbone: BackboneInfo | None = None
    tokenizer: Any = None
    """The backbone's fast tokenizer (not part of the plan)."""
    sources: tuple[SplitSource, ...] = ()
    split: SplitRecipe | None = None
    splits: tuple[Examples, ...] = ()
    fingerprint: str = ""
    profiles: tuple[SplitProfile, ...] = ()
    lengths: tuple[TokenLengths, ...] = ()
    """Token lengths per split, kept for the passes that choose and check max_length."""
    train_test_overlap: int = 0
    max_length: int | None = None
    task: TaskPlan | None = None
    strategy: StrategyPlan | None = None
    precision: PrecisionPlan | None = None
    compute: ComputePlan | None = None
    schedule: SchedulePlan | None = None
    estimates: Estimates | None = None
    deploy: DeployPlan | None = None
    tune: TunePlan | None = None
    decisions: tuple[Decision, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    passes: tuple[str, ...] = field(default=())

    def replace(self, **changes: Any) -> CompileContext:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def decide(
        self, key: str, value: Any, reason: str, source: Source = "inferred"
    ) -> CompileContext:
        """A copy that records one decision (a later decision for the same key replaces it)."""
        kept = tuple(d for d in self.decisions if d.key != key)
        decision = Decision(key=key, value=value, reason=reason, source=source)
        return self.replace(decisions=(*kept, decision))

    def warn(self, code: str, message: str) -> CompileContext:
        """A copy that records one warning."""
        return self.replace(warnings=(*self.warnings, PlanWarning(code=code, message=message)))

    def split_rows(self, name: str) -> Examples | None:
        """The rows of split `name`, if it exists."""
        return next((s for s in self.splits if s.name == name), None)

    def profile(self, name: str) -> SplitProfile | None:
        """The profile of split `name`, if it exists."""
        return next((p for p in self.profiles if p.name == name), None)

    def split_lengths(self, name: str) -> TokenLengths | None:
        """The token lengths measured on split `name`, if any."""
        return next((x for x in self.lengths if x.split == name), None)

    def need(self, attribute: str) -> Any:
        """The value a previous pass produced; a pass ordering bug raises RuntimeError."""
        value = getattr(self, attribute)
        if value is None:
            raise RuntimeError(f"`{attribute}` is not set: a pass that produces it must run first")
        return value
