"""Domain-adaptive pretraining: masked-LM on in-domain text, then the downstream strategy."""

from __future__ import annotations

from pathlib import Path

from etbuilder.compiler.recipes import MLM_RECIPE
from etbuilder.compiler.strategies._common import (
    Lowered,
    LoweringInput,
    backbone_groups,
    make_plan,
    note,
)
from etbuilder.compiler.strategies.downstream import DOWNSTREAM_LOWERINGS
from etbuilder.errors import CompileError
from etbuilder.plan import DaptPlan, ParameterGroup
from etbuilder.spec.strategy import DaptStrategy
from etbuilder.zoo.architecture import mlm_head_parameters


def lower_dapt(strategy: DaptStrategy, info: LoweringInput) -> Lowered:
    b = info.backbone
    then, then_notes = DOWNSTREAM_LOWERINGS[strategy.then.type](strategy.then, info)
    if strategy.corpus is None:
        corpus = "the task's training texts (task-adaptive pretraining)"
        corpus_path = None
    else:
        path = Path(strategy.corpus).expanduser()
        corpus_path = str(path if path.is_absolute() else info.base_dir / path)
        if not Path(corpus_path).is_file():
            raise CompileError(f"strategy.corpus: no file at {corpus_path}; check the path")
        corpus = corpus_path + (
            f" (column {strategy.corpus_column})" if strategy.corpus_column else ""
        )
    mlm = mlm_head_parameters(b)
    groups = [
        *backbone_groups(info),
        ParameterGroup(name="mlm_head", parameters=mlm, trainable=True),
    ]
    lr = strategy.learning_rate or info.learning_rate or MLM_RECIPE.learning_rate
    actions = [
        "load the pretrained backbone",
        ("load its masked-LM head" if b.has_mlm_head else "initialise a masked-LM head"),
        f"masked-LM training on {corpus} for {strategy.steps} steps "
        f"(mask {strategy.mlm_probability:.0%} of tokens, learning rate {lr:g})",
        f"then: {then.type} on the task",
    ]
    mlm_head = "loaded" if b.has_mlm_head else "initialised"
    notes = [
        note(
            "corpus",
            corpus_path,
            "set in the spec"
            if corpus_path
            else "no corpus given: adapt on the task's own training texts (TAPT)",
            "spec" if corpus_path else "default",
        ),
        note(
            "mlm_head",
            mlm_head,
            "the backbone's weights "
            + ("ship a masked-LM head" if b.has_mlm_head else "have no masked-LM head"),
        ),
        note(
            "learning_rate",
            lr,
            "strategy.learning_rate"
            if strategy.learning_rate
            else "strategy.learning_rate unset: train.learning_rate"
            if info.learning_rate
            else "strategy.learning_rate and train.learning_rate unset: the masked-LM phase "
            "trains the whole body, at full fine-tuning's default rate",
            "spec" if strategy.learning_rate else "default",
        ),
    ]
    plan = make_plan(
        DaptPlan,
        groups,
        actions,
        corpus=corpus_path,
        corpus_column=strategy.corpus_column,
        steps=strategy.steps,
        mlm_probability=strategy.mlm_probability,
        learning_rate=lr,
        mlm_head=mlm_head,
        then=then,
    )
    return plan, notes + then_notes
