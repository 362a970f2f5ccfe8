"""The Plan: the frozen, versioned record of what a run will do (the compiler's output).

The ground floor beside the Spec: the compiler builds these records, the runtime, reports and the
packager read them, and nothing here imports any other part of etbuilder but the spec.
"""

from etbuilder.plan.records import (
    PLAN_VERSION,
    BackboneInfo,
    ComputePlan,
    DataPlan,
    Decision,
    DeployPlan,
    Estimates,
    HardwareInfo,
    LengthStats,
    NodeCommand,
    ParameterGroup,
    Plan,
    PlanModel,
    PlanWarning,
    PrecisionPlan,
    SchedulePlan,
    ServerLimits,
    SplitProfile,
    SplitRecipe,
    SplitSource,
    StrategyPlan,
    TaskPlan,
)

__all__ = [
    "PLAN_VERSION",
    "BackboneInfo",
    "ComputePlan",
    "DataPlan",
    "Decision",
    "DeployPlan",
    "Estimates",
    "HardwareInfo",
    "LengthStats",
    "NodeCommand",
    "ParameterGroup",
    "Plan",
    "PlanModel",
    "PlanWarning",
    "PrecisionPlan",
    "SchedulePlan",
    "ServerLimits",
    "SplitProfile",
    "SplitRecipe",
    "SplitSource",
    "StrategyPlan",
    "TaskPlan",
]
