"""The cross-field rules as a table: named, documented, and each one proven to fire."""

from __future__ import annotations

import textwrap

from etbuilder.spec._yaml import parse_document
from etbuilder.spec.rules import RULES, RuleContext, distill_teacher_is_not_self
from etbuilder.spec.spec import Spec
from etbuilder.spec.tune_rules import tune_space_fits
from tests.specs import VALID_SPECS
from tests.unit.test_spec_problems import CASES


def test_rules_are_named_documented_functions() -> None:
    names = [rule.__name__ for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.__doc__ and rule.__doc__.strip(), rule.__name__
        assert not rule.__name__.startswith("_")


def test_every_rule_fires_on_some_broken_spec_in_the_table() -> None:
    fired: set[str] = set()
    for case in CASES:
        if case.overrides or case.env:
            continue
        try:
            data = parse_document(textwrap.dedent(case.text), "spec.yaml", env={}).data
            spec = Spec.model_validate(data)
        except Exception:
            continue
        for rule in RULES:
            if rule(spec, RuleContext(raw=data)):
                fired.add(rule.__name__)
    # The teacher rule needs a spec file; test_spec_loader covers it.
    expected = {rule.__name__ for rule in RULES} - {distill_teacher_is_not_self.__name__}
    assert expected - fired == set()


def test_no_rule_fires_on_a_valid_spec() -> None:
    for path in VALID_SPECS:
        data = parse_document(path.read_text(encoding="utf-8"), str(path), env={}).data
        spec = Spec.model_validate(data)
        context = RuleContext(raw=data, spec_path=path.resolve())
        assert [f for rule in RULES for f in rule(spec, context)] == [], path.name


def test_tune_paths_follow_the_chosen_strategy() -> None:
    text = textwrap.dedent(
        """\
        name: t
        data: {train: a.csv}
        task: {type: classification, text: t, label: l}
        strategy: {type: dapt, then: {type: lora}}
        tune:
          space:
            strategy.then.r: {int: [2, 16], step: 2}
            strategy.then.alpha: {uniform: [8, 64]}
            strategy.steps: {choice: [100, 200]}
            strategy.then.variant: {choice: [lora, dora]}
            backbone.max_length: {choice: [auto, 128]}
            train.early_stopping.patience: {int: [1, 3]}
        """
    )
    data = parse_document(text, "s.yaml", env={}).data
    assert tune_space_fits(Spec.model_validate(data), RuleContext(raw=data)) == []
