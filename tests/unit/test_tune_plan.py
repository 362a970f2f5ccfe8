"""`tune:` in the spec and the plan: conditional spaces, the study record, the budget's trials."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_compiler_fixtures import (
    CLASSIFICATION_SPEC,
    classification_csv,
    compile_project,
    isolated_cache,
)

from etbuilder.cli.main import main
from etbuilder.errors import SpecError
from etbuilder.plan import TunePlan
from etbuilder.spec.loader import load_spec_text
from etbuilder.spec.tune_space import apply_values, conditions, sampling_order

pytestmark = pytest.mark.usefixtures("isolated_cache")
__all__ = ["isolated_cache"]

CONDITIONAL = """\
tune:
  budget: 10m
  trials: 12
  space:
    train.learning_rate: {log_uniform: [1.0e-5, 1.0e-3]}
    strategy.r: {int: [4, 16], step: 4}
    strategy.type: {choice: [features, lora, finetune]}
    strategy.head: {choice: [linear, mlp]}
"""


def _spec(tune: str) -> str:
    return CLASSIFICATION_SPEC + tune


def test_a_knob_of_a_chosen_strategy_is_conditional_on_that_choice() -> None:
    spec = load_spec_text(_spec(CONDITIONAL))
    found = conditions(spec)
    assert found["strategy.r"] == [("strategy.type", ["lora"])]
    assert found["strategy.head"] == [("strategy.type", ["features"])]
    assert found["train.learning_rate"] == [] and found["strategy.type"] == []


def test_a_knob_no_choice_has_is_refused_with_the_member_that_has_it() -> None:
    text = _spec(
        "tune:\n  space:\n    strategy.type: {choice: [features, finetune]}\n"
        "    strategy.r: {int: [4, 16]}\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec_text(text)
    message = info.value.render()
    assert "no choice of strategy.type (features, finetune) has 'r'" in message
    assert "add lora to the choices" in message


def test_a_knob_of_another_strategy_without_a_type_choice_is_still_refused() -> None:
    with pytest.raises(SpecError) as info:
        load_spec_text(_spec("tune:\n  space:\n    strategy.r: {int: [4, 16]}\n"))
    assert "'r' is a setting of type lora, not finetune" in info.value.render()


def test_a_strategy_choice_outside_the_members_is_refused() -> None:
    with pytest.raises(SpecError) as info:
        load_spec_text(_spec("tune:\n  space:\n    strategy.type: {choice: [lora, lorra]}\n"))
    assert "'lorra' is outside what strategy.type accepts" in info.value.render()


def test_choices_come_before_the_knobs_they_govern() -> None:
    keys = ["strategy.r", "train.epochs", "strategy.then.type", "strategy.type"]
    assert sampling_order(keys) == [
        "strategy.type",
        "strategy.then.type",
        "strategy.r",
        "train.epochs",
    ]


def test_switching_the_strategy_keeps_only_the_keys_the_new_one_has() -> None:
    data = {"strategy": {"type": "features", "head": "mlp", "hidden": 64}, "train": {}}
    out = apply_values(data, {"strategy.type": "lora", "strategy.r": 8, "train.epochs": 2})
    assert out["strategy"] == {"type": "lora", "r": 8}
    assert out["train"] == {"epochs": 2}
    assert data["strategy"]["head"] == "mlp", "the input is not changed"
    same = apply_values(data, {"strategy.type": "features", "strategy.hidden": 32})
    assert same["strategy"] == {"type": "features", "head": "mlp", "hidden": 32}


def test_the_plan_holds_the_study_and_how_many_trials_the_budget_holds(tmp_path: Path) -> None:
    plan = compile_project(tmp_path, _spec(CONDITIONAL), {"train.csv": classification_csv()})
    tune = plan.tune
    assert tune is not None
    assert [d.path for d in tune.space] == [
        "strategy.type",
        "strategy.head",
        "strategy.r",
        "train.learning_rate",
    ]
    r = next(d for d in tune.space if d.path == "strategy.r")
    assert (r.kind, r.low, r.high, r.step) == ("int", 4, 16, 4)
    assert [(c.path, c.values) for c in r.conditions] == [("strategy.type", ["lora"])]
    assert next(d for d in tune.space if d.path == "strategy.type").base == "finetune"
    assert (tune.metric, tune.direction, tune.sampler, tune.pruner) == (
        "accuracy",
        "maximize",
        "tpe",
        "median",
    )
    assert tune.budget_s == 600 and tune.storage == "sqlite"
    expected = min(12, int(600 // max(plan.estimates.seconds_total, 0.1)))
    assert tune.expected_trials == expected
    assert "plan_tune" in plan.passes
    assert any(d.key == "tune.expected_trials" for d in plan.decisions)


def test_a_budget_shorter_than_one_trial_warns(tmp_path: Path) -> None:
    tune = "tune:\n  budget: 1s\n  space:\n    train.epochs: {int: [200, 400]}\n"
    spec = _spec(tune).replace("label: label\n", "label: label\ntrain: {epochs: 400}\n")
    plan = compile_project(tmp_path, spec, {"train.csv": classification_csv()})
    assert plan.tune is not None and plan.estimates.seconds_total > 1
    assert plan.tune.expected_trials == 0
    assert any(w.code == "tune_budget" for w in plan.warnings)


def test_a_grid_counts_its_configurations(tmp_path: Path) -> None:
    tune = (
        "tune:\n  sampler: grid\n  trials: 100\n  space:\n"
        "    train.epochs: {int: [1, 5], step: 2}\n    train.batch_size: {choice: [8, 16]}\n"
    )
    plan = compile_project(tmp_path, _spec(tune), {"train.csv": classification_csv()})
    assert plan.tune is not None and plan.tune.grid_size == 6 and plan.tune.expected_trials == 6


def test_etb_plan_shows_the_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train.csv").write_text(classification_csv(), encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(_spec(CONDITIONAL), encoding="utf-8")
    assert main(["plan", str(tmp_path / "spec.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Study: tpe sampler, median pruner" in out
    assert "strategy.type in lora" in out


def test_each_sampler_and_pruner_is_the_optuna_one_it_names(tmp_path: Path) -> None:
    import optuna

    from etbuilder.runtime.tune.search import grid_values, make_pruner, make_sampler

    plan = compile_project(tmp_path, _spec(CONDITIONAL), {"train.csv": classification_csv()})
    assert plan.tune is not None
    samplers = {
        "tpe": optuna.samplers.TPESampler,
        "random": optuna.samplers.RandomSampler,
        "cmaes": optuna.samplers.CmaEsSampler,
        "grid": optuna.samplers.GridSampler,
    }
    for name, cls in samplers.items():
        assert isinstance(make_sampler(plan.tune.model_copy(update={"sampler": name}), 3), cls)
    pruners = {
        "median": optuna.pruners.MedianPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "none": optuna.pruners.NopPruner,
    }
    for name, cls in pruners.items():
        assert isinstance(make_pruner(plan.tune.model_copy(update={"pruner": name})), cls)
    r = next(d for d in plan.tune.space if d.path == "strategy.r")
    assert grid_values(r) == [4, 8, 12, 16]


def test_a_worker_scales_estimates_by_how_much_slower_its_trials_ran() -> None:
    from etbuilder.runtime.tune.trial import TrialContext

    ctx = TrialContext(spec=None, spec_path=None, tune=None, hardware=None, folder=Path("."),
                       deadline=None)  # type: ignore[arg-type]  # fmt: skip
    assert ctx.slowdown() == 1.0
    ctx.slowdowns += [2.2, 0.5, 3.0]
    assert ctx.slowdown() == 2.2, "the median ratio"
    ctx.slowdowns[:] = [0.4, 0.6]
    assert ctx.slowdown() == 1.0, "a faster machine does not stretch the budget"


def _space_plan() -> TunePlan:
    from etbuilder.plan import TuneCondition, TuneDimension, TunePlan

    on_features = [TuneCondition(path="strategy.type", values=["features"])]
    space = [
        TuneDimension(path="strategy.type", kind="choice", choices=["features", "finetune"]),
        TuneDimension(
            path="strategy.head", kind="choice", choices=["linear", "mlp"], conditions=on_features
        ),
        TuneDimension(path="train.epochs", kind="int", low=1, high=4, step=1),
        TuneDimension(path="train.learning_rate", kind="log_uniform", low=1e-5, high=3e-3),
    ]
    return TunePlan(
        space=space,
        metric="accuracy",
        direction="maximize",
        sampler="random",
        pruner="none",
        trials=40,
        budget_s=None,
        expected_trials=40,
        seconds_per_trial=1.0,
        storage="memory",
    )


@pytest.mark.parametrize(
    ("strategy", "exact"),
    [
        ("{type: finetune}", True),  # a features trial of a finetune spec: auto, linear
        ("{type: features, solver: adamw}", False),  # the spec asks for AdamW
    ],
)
def test_a_head_solved_exactly_samples_no_learning_rate_or_epochs(
    strategy: str, exact: bool
) -> None:
    import optuna

    from etbuilder.runtime.tune.trial import sample

    spec = load_spec_text(_spec(f"strategy: {strategy}\n"))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        values = sample(trial, _space_plan(), spec=spec)
        study.tell(trial, 0.5)
        kind, head = values["strategy.type"], values.get("strategy.head")
        seen.add((kind, head))
        lbfgs = exact and kind == "features" and head == "linear"
        assert ("train.learning_rate" in values) is not lbfgs, values
        assert ("train.epochs" in values) is not lbfgs, values
    assert {("features", "linear"), ("features", "mlp"), ("finetune", None)} <= seen
