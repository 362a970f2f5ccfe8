"""The compiler chooses the learning rate, epochs, warmup and early stopping the spec leaves
unset, per strategy and data size, each as a decision that names its inputs; what the spec sets
always wins; a rate far outside a strategy's useful range is a warning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from test_compiler_fixtures import CLASSIFICATION_SPEC, classification_csv, compile_project

from etbuilder.compiler.recipes import RECIPES
from etbuilder.errors import CompileError
from etbuilder.plan import FeaturesPlan, Plan

STRATEGIES = {
    "finetune": "{type: finetune}",
    "freeze": "{type: freeze, layers: 2}",
    "lora": "{type: lora, r: 4}",
    "features-mlp": "{type: features, head: mlp, hidden: 16}",
}


def _plan(tmp_path: Path, strategy: str, train: str = "", rows: int = 200) -> Plan:
    spec = CLASSIFICATION_SPEC + f"strategy: {strategy}\n" + (f"train: {train}\n" if train else "")
    return compile_project(tmp_path, spec, {"train.csv": classification_csv(rows)})


def _decision(plan: Plan, key: str) -> tuple[object, str, str]:
    d = next(d for d in plan.decisions if d.key == key)
    return d.value, d.reason, d.source


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_unset_values_are_chosen_per_strategy_with_reasons_naming_their_inputs(
    tmp_path: Path, name: str
) -> None:
    plan = _plan(tmp_path, STRATEGIES[name])
    kind = name.split("-")[0]
    recipe = RECIPES[kind]
    s = plan.schedule
    assert s.learning_rate == recipe.learning_rate
    value, reason, source = _decision(plan, "schedule.learning_rate")
    assert (value, source) == (recipe.learning_rate, "default")
    assert kind in reason and "classification" in reason
    rows = plan.data.profiles[0].rows
    value, reason, source = _decision(plan, "schedule.epochs")
    assert (value, source) == (s.epochs, "default")
    assert f"{rows:,} training rows" in reason and f"global batch {s.global_batch}" in reason
    assert f"{s.steps_per_epoch:,} steps per epoch" in reason
    assert recipe.min_epochs <= s.epochs <= recipe.max_epochs
    _, reason, source = _decision(plan, "schedule.warmup_steps")
    assert source == "default" and kind in reason
    assert s.warmup_steps == math.ceil(recipe.warmup * s.total_steps)


def test_epochs_follow_the_data_size(tmp_path: Path) -> None:
    small = _plan(tmp_path / "small", "{type: lora, r: 4}", rows=100)
    large = _plan(tmp_path / "large", "{type: lora, r: 4}", train="{batch_size: 2}", rows=400)
    assert small.schedule.steps_per_epoch < large.schedule.steps_per_epoch
    assert small.schedule.epochs > large.schedule.epochs


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_what_the_spec_sets_is_never_overridden(tmp_path: Path, name: str) -> None:
    train = "{learning_rate: 2.5e-4, epochs: 7, warmup: 3, early_stopping: null}"
    plan = _plan(tmp_path, STRATEGIES[name], train)
    s = plan.schedule
    assert (s.learning_rate, s.epochs, s.warmup_steps, s.early_stopping) == (2.5e-4, 7, 3, None)
    for key in ("schedule.learning_rate", "schedule.epochs", "schedule.warmup_steps"):
        assert _decision(plan, key)[2] == "spec"


def test_early_stopping_comes_on_with_many_chosen_epochs_unless_the_spec_says(
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path / "auto", "{type: lora, r: 4}")
    assert plan.schedule.epochs >= 5 and plan.schedule.early_stopping is not None
    _, reason, source = _decision(plan, "schedule.early_stopping")
    assert source == "default" and f"{plan.schedule.epochs} epochs" in reason
    assert "validation split of" in reason
    off = _plan(tmp_path / "off", "{type: lora, r: 4}", "{early_stopping: null}")
    assert off.schedule.early_stopping is None
    fixed = _plan(tmp_path / "fixed", "{type: lora, r: 4}", "{epochs: 9}")
    assert fixed.schedule.early_stopping is None


def test_a_linear_features_head_is_solved_with_lbfgs_unless_asked_otherwise(
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path / "a", "{type: features}")
    assert isinstance(plan.strategy, FeaturesPlan)
    assert plan.strategy.solver == "lbfgs" and len(plan.strategy.l2_grid) > 1
    assert plan.schedule.epochs == 1 and plan.schedule.total_steps == len(plan.strategy.l2_grid)
    assert _decision(plan, "strategy.solver")[0] == "lbfgs"
    assert "L-BFGS" in plan.strategy.actions[-1]
    with_rate = _plan(tmp_path / "b", "{type: features}", "{learning_rate: 1.0e-2}")
    assert isinstance(with_rate.strategy, FeaturesPlan)
    assert with_rate.strategy.solver == "adamw"
    assert "train.learning_rate" in _decision(with_rate, "strategy.solver")[1]
    mlp = _plan(tmp_path / "c", STRATEGIES["features-mlp"])
    assert isinstance(mlp.strategy, FeaturesPlan) and mlp.strategy.solver == "adamw"
    with pytest.raises(CompileError, match=r"strategy\.head: linear"):
        _plan(tmp_path / "d", "{type: features, head: mlp, solver: lbfgs}")


def test_lbfgs_without_validation_uses_one_strength_and_refuses_warmup(
    tmp_path: Path,
) -> None:
    spec = CLASSIFICATION_SPEC.replace(
        "  train: train.csv\n", "  train: train.csv\n  split: {validation: 0.0, test: 0.2}\n"
    )
    spec += "strategy: {type: features}\n"
    plan = compile_project(tmp_path / "a", spec, {"train.csv": classification_csv()})
    assert isinstance(plan.strategy, FeaturesPlan) and len(plan.strategy.l2_grid) == 1
    with pytest.raises(CompileError, match=r"train.warmup does nothing for an L-BFGS head"):
        compile_project(
            tmp_path / "b", spec + "train: {warmup: 5}\n", {"train.csv": classification_csv()}
        )


@pytest.mark.parametrize(
    ("strategy", "rate", "effect"),
    [
        ("{type: finetune}", 1.0e-2, "diverge"),
        ("{type: features, solver: adamw}", 5.0e-5, "barely move"),
        ("{type: lora, r: 4}", 1.0e-5, "barely move"),
    ],
)
def test_a_rate_far_outside_the_useful_range_is_a_warning_naming_the_default(
    tmp_path: Path, strategy: str, rate: float, effect: str
) -> None:
    plan = _plan(tmp_path, strategy, f"{{learning_rate: {rate}}}")
    kind = strategy.split(",")[0].split(": ")[1].rstrip("}")
    warning = next(w for w in plan.warnings if w.code == "learning_rate_range")
    assert effect in warning.message and f"{RECIPES[kind].learning_rate:g}" in warning.message
    assert plan.schedule.learning_rate == rate  # warned, not overridden
    inside = _plan(tmp_path / "ok", strategy, f"{{learning_rate: {RECIPES[kind].learning_rate}}}")
    assert not [w for w in inside.warnings if w.code == "learning_rate_range"]


def test_a_refit_keeps_an_lbfgs_head_on_its_solver() -> None:
    """Refit pins the best trial's epochs; for an L-BFGS head it writes the solver instead
    (epochs in the spec would switch the head to AdamW)."""
    from etbuilder.runtime.tune.refit import _pin_lbfgs

    assert _pin_lbfgs({"type": "features"}) == {"type": "features", "solver": "lbfgs"}
    dapt = _pin_lbfgs({"type": "dapt", "steps": 5, "then": {"type": "features"}})
    assert dapt["then"] == {"type": "features", "solver": "lbfgs"} and dapt["steps"] == 5


def _many_classes_plan(tmp_path: Path, strategy: str, train: str = "", classes: int = 40) -> Plan:
    from test_compiler_fixtures import sentence

    lines = ["text,label"] + [f"{sentence(i)},intent{i % classes}" for i in range(classes * 6)]
    spec = CLASSIFICATION_SPEC + f"strategy: {strategy}\n" + (f"train: {train}\n" if train else "")
    return compile_project(tmp_path, spec, {"train.csv": "\n".join(lines) + "\n"})


def test_a_pooling_a_classifier_head_cannot_read_is_refused_at_plan_time(tmp_path: Path) -> None:
    spec = CLASSIFICATION_SPEC.replace("task:", "backbone: {pooling: mean}\ntask:")
    with pytest.raises(CompileError, match=r"backbone.pooling: mean is not available"):
        compile_project(tmp_path, spec, {"train.csv": classification_csv()})


def _head(plan: Plan) -> tuple[float, float]:
    """(the head's rate, the body's rate) of the plan's trained strategy."""
    final = getattr(plan.strategy, "then", plan.strategy)
    scale = next(g.lr_scale for g in final.groups if g.name == "head")
    return plan.schedule.learning_rate * scale, plan.schedule.learning_rate


HEAD_AT_40_CLASSES = {"finetune": 3.9e-3, "freeze": 3.9e-3, "lora": 1.0e-2, "dapt": 3.9e-3}
"""The body's default rate x (40 classes - 1) (lora's 3.9e-2 capped at 1e-2)."""


@pytest.mark.parametrize("name", sorted(HEAD_AT_40_CLASSES))
def test_a_new_classification_head_trains_faster_the_more_classes_it_has(
    tmp_path: Path, name: str
) -> None:
    strategy = STRATEGIES.get(name, "{type: dapt, steps: 10}")
    kind = "finetune" if name == "dapt" else name  # dapt's task phase: full fine-tuning
    body = RECIPES[kind].learning_rate

    binary = _plan(tmp_path / "binary", strategy)
    assert _head(binary) == pytest.approx((body, body))
    value, reason, source = _decision(binary, "schedule.head_learning_rate")
    assert (value, source) == (body, "default") and "2 classes" in reason

    many = _many_classes_plan(tmp_path / "many", strategy)
    assert _head(many) == pytest.approx((HEAD_AT_40_CLASSES[name], body))
    value, reason, source = _decision(many, "schedule.head_learning_rate")
    assert value == pytest.approx(HEAD_AT_40_CLASSES[name]) and source == "default"
    assert "40 classes" in reason and kind in reason and "classifier head" in reason

    # the user's body rate is kept; the head follows it
    chosen = _many_classes_plan(tmp_path / "body", strategy, "{learning_rate: 1.0e-4}")
    assert _head(chosen) == pytest.approx((3.9e-3, 1.0e-4))
    # never above 1e-2 unless the body's rate is higher
    high = _many_classes_plan(tmp_path / "high", strategy, "{learning_rate: 2.0e-2}")
    assert _head(high) == pytest.approx((2.0e-2, 2.0e-2))
    # the spec's head rate always wins, even below the body's
    both = _many_classes_plan(
        tmp_path / "both", strategy, "{learning_rate: 2.0e-4, head_learning_rate: 1.0e-4}"
    )
    assert _head(both) == pytest.approx((1.0e-4, 2.0e-4))
    assert _decision(both, "schedule.head_learning_rate")[1:] == (
        "train.head_learning_rate",
        "spec",
    )


def test_the_head_rate_scales_a_layer_wise_decay_head_only(tmp_path: Path) -> None:
    plan = _many_classes_plan(tmp_path, "{type: freeze, layers: 1, lr_decay: 0.5}")
    scales = {g.name: g.lr_scale for g in plan.strategy.groups if g.trainable}
    assert scales["head"] == pytest.approx(39.0)
    assert scales["pooler"] == 1.0 and scales["encoder.layer.5"] == 0.5


def test_regression_keeps_the_body_rate_tags_scale_and_features_refuse_a_head_rate(
    tmp_path: Path,
) -> None:
    rows = "a,b,score\n" + "".join(
        f"pair {i} first,pair {i} second,{i % 5}.5\n" for i in range(120)
    )
    spec = "etb: 1\nname: sts\ndata: {train: train.csv}\n"
    task = "task: {type: regression, text: [a, b], label: score}\n"
    plan = compile_project(tmp_path / "reg", spec + task, {"train.csv": rows})
    assert _head(plan) == pytest.approx((1.0e-4, 1.0e-4))
    value, reason, source = _decision(plan, "schedule.head_learning_rate")
    assert (value, source) == (1.0e-4, "default") and "labels' mean" in reason

    from test_compiler_pipeline import TASKS

    ner = compile_project(tmp_path / "ner", *TASKS["ner"])
    tags = len(ner.task.labels)
    assert tags > 2
    assert _head(ner) == pytest.approx((1.0e-4 * (tags - 1), 1.0e-4))
    assert (
        f"a new tagging head over {tags} classes"
        in _decision(ner, "schedule.head_learning_rate")[1]
    )

    with pytest.raises(CompileError, match="features trains the head alone"):
        _plan(tmp_path / "features", STRATEGIES["features-mlp"], "{head_learning_rate: 1.0e-3}")
    embedding = "task: {type: embedding, text: [a, b], label: score}\n"
    with pytest.raises(CompileError, match="task embedding has no task head"):
        compile_project(
            tmp_path / "emb",
            spec + embedding + "train: {head_learning_rate: 1.0e-3}\n",
            {"train.csv": rows},
        )
