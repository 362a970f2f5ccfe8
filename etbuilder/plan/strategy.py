"""The lowered strategy: one record per strategy type, a union discriminated on `type`.

Every record holds the parameter groups, the frozen module prefixes and the ordered actions; each
adds the concrete settings its runtime reads (LoRA rank and targets, teacher and student layers,
cache keys, the masked-LM phase ...). `dapt` holds the downstream strategy in `then`.
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import Field

from etbuilder.plan.base import PlanModel


class ParameterGroup(PlanModel):
    name: str
    """e.g. `embeddings`, `encoder.layer.0-2`, `head`, `lora`."""
    parameters: int
    trainable: bool
    lr_scale: float = 1.0
    """Multiplier of the base learning rate (layer-wise decay)."""


class BaseStrategyPlan(PlanModel):
    """What every lowered strategy holds: the spec's strategy as concrete actions."""

    type: str
    groups: list[ParameterGroup]
    frozen_modules: list[str] = Field(default_factory=list)
    """Module-name prefixes whose parameters do not train."""
    trainable_parameters: int
    actions: list[str]
    """Human-readable steps, in order."""


class FinetunePlan(BaseStrategyPlan):
    type: Literal["finetune"] = "finetune"


class FeaturesPlan(BaseStrategyPlan):
    type: Literal["features"] = "features"
    head: Literal["linear", "mlp"]
    hidden: int | None = None
    """Width of the mlp head's hidden layer (None for a linear head)."""
    cache: Literal["features"] = "features"
    cache_key: str
    """Keys the cached vectors: backbone, data fingerprint, max_length and pooling."""
    pooling: str
    """The vector the head reads: mean, cls, pooler, native or tokens."""
    solver: Literal["lbfgs", "adamw"] = "adamw"
    """lbfgs: the linear head solved full-batch; adamw: mini-batch training by the schedule."""
    l2_grid: list[float] = Field(default_factory=list)
    """L2 strengths the L-BFGS head tries (the best on validation is kept)."""


class FreezePlan(BaseStrategyPlan):
    type: Literal["freeze"] = "freeze"
    layers: int
    """The lowest layers frozen."""
    embeddings: bool
    """Whether the embeddings are frozen."""
    lr_decay: float | None = None
    """Layer-wise learning-rate decay (the groups' lr_scale carries it)."""


class LoraPlan(BaseStrategyPlan):
    type: Literal["lora"] = "lora"
    peft_type: Literal["LORA"] = "LORA"
    use_dora: bool = False
    r: int
    lora_alpha: float
    lora_dropout: float
    target_modules: list[str]
    modules_to_save: list[str] = Field(default_factory=list)
    """Plan groups trained and saved whole beside the adapters (`head`)."""
    bias: Literal["none", "all", "lora_only"] = "none"


class DistillPlan(BaseStrategyPlan):
    type: Literal["distill"] = "distill"
    teacher: str
    """Absolute path of the teacher: a finished run folder, or a spec file."""
    teacher_kind: Literal["run", "spec"]
    """`spec`: the run trains the teacher first, into its own `teacher/` folder."""
    student_layers: list[int]
    """The teacher layers the student keeps, in order."""
    temperature: float
    alpha: float
    """Weight of the soft-target loss (1 - alpha: the hard labels)."""
    cache: Literal["teacher_logits"] = "teacher_logits"
    cache_key: str
    """Keys the cached teacher logits: teacher, data fingerprint and max_length."""
    teacher_backbone: str | None = None
    """The teacher's backbone, layers and parameters (from its run's plan, or its spec's)."""
    teacher_layers: int | None = None
    teacher_parameters: int | None = None
    teacher_seconds: float | None = None
    """Estimated time of the teacher stage (a spec teacher only; counted in the estimates)."""


TEACHER_SPEC_SUFFIXES = (".yaml", ".yml")
"""A distill teacher path ending so names a spec file (anything else: a run folder)."""
TEACHER_FOLDER = "teacher"
"""Where a distill run trains a spec teacher: this folder inside its own run folder."""


DownstreamStrategyPlan = Annotated[
    FinetunePlan | FeaturesPlan | FreezePlan | LoraPlan | DistillPlan,
    Field(discriminator="type"),
]
"""A strategy that trains the task model itself (what dapt runs after its masked-LM phase)."""


class DaptPlan(BaseStrategyPlan):
    type: Literal["dapt"] = "dapt"
    corpus: str | None = None
    """Absolute path of the in-domain text; None: the task's training texts."""
    corpus_column: str | None = None
    steps: int
    """Masked-LM optimizer steps."""
    mlm_probability: float
    learning_rate: float
    """Of the masked-LM phase."""
    mlm_head: Literal["loaded", "initialised"]
    """Whether the backbone's weights ship a masked-LM head."""
    then: DownstreamStrategyPlan
    """The downstream strategy, trained on the task from the adapted weights."""


StrategyPlan = Annotated[
    FinetunePlan | FeaturesPlan | FreezePlan | LoraPlan | DistillPlan | DaptPlan,
    Field(discriminator="type"),
]
"""The lowered strategy of a plan, one record type per strategy."""

STRATEGY_TYPES: frozenset[str] = frozenset(
    typing.get_args(cls.model_fields["type"].annotation)[0]
    for cls in typing.get_args(typing.get_args(StrategyPlan)[0])
)
"""Every strategy type a plan can hold."""


def final_strategy(strategy: StrategyPlan) -> DownstreamStrategyPlan:
    """The strategy that trains the task model: dapt's downstream one, else `strategy`."""
    return strategy.then if isinstance(strategy, DaptPlan) else strategy


def lbfgs_head(strategy: StrategyPlan) -> FeaturesPlan | None:
    """The features record when its head is solved by L-BFGS (no epochs or learning rate)."""
    final = final_strategy(strategy)
    if isinstance(final, FeaturesPlan) and final.solver == "lbfgs":
        return final
    return None
