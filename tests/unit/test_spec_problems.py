"""A table of broken specs: each must report the right path, line and a helpful message or hint."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from etbuilder.errors import SpecError, SpecProblem
from etbuilder.spec.loader import load_spec_text

HEAD = """\
name: t
data:
  train: train.csv
"""
"""Lines 1-3 of most cases."""

TASK = """\
task:
  type: classification
  text: text
  label: label
"""
"""Lines 4-7 of most cases."""


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    path: str
    line: int | None
    fragment: str
    overrides: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def problems_of(text: str, overrides: tuple[str, ...] = (), env: dict[str, str] | None = None):
    with pytest.raises(SpecError) as raised:
        load_spec_text(
            textwrap.dedent(text),
            file="spec.yaml",
            base_dir="/specs",
            overrides=overrides,
            env=env or {},
        )
    return raised.value.problems


CASES = [
    # Typos in keys and values.
    Case(
        "key-typo",
        HEAD + TASK + "train:\n  learnin_rate: 0.1\n",
        "train.learnin_rate",
        9,
        "did you mean 'learning_rate'?",
    ),
    Case(
        "task-type-typo",
        HEAD + "task:\n  type: clasification\n  text: t\n  label: l\n",
        "task.type",
        5,
        "did you mean 'classification'?",
    ),
    Case(
        "strategy-type-typo",
        HEAD + TASK + "strategy:\n  type: lorra\n",
        "strategy.type",
        9,
        "did you mean 'lora'?",
    ),
    Case(
        "enum-value",
        HEAD + TASK + "train:\n  precision: fp8\n",
        "train.precision",
        9,
        "allowed: auto, fp32, bf16, fp16",
    ),
    Case(
        "enum-typo",
        HEAD + TASK + "train:\n  schedule: cosin\n",
        "train.schedule",
        9,
        "did you mean 'cosine'?",
    ),
    Case(
        "pooling-case",
        HEAD + TASK + "backbone:\n  pooling: Mean\n",
        "backbone.pooling",
        9,
        "did you mean 'mean'?",
    ),
    # Wrong types and bounds.
    Case(
        "int-from-text",
        HEAD + TASK + "train:\n  epochs: three\n",
        "train.epochs",
        9,
        "'three' is not an integer",
    ),
    Case(
        "int-from-float",
        HEAD + TASK + "train:\n  epochs: 2.5\n",
        "train.epochs",
        9,
        "not a whole number",
    ),
    Case(
        "below-bound",
        HEAD + TASK + "train:\n  learning_rate: -1\n",
        "train.learning_rate",
        9,
        "-1 is too small: it must be above 0",
    ),
    Case(
        "above-bound",
        HEAD + TASK + "train:\n  batch_size: 100000\n",
        "train.batch_size",
        9,
        "at most 65536",
    ),
    Case(
        "bool-from-text",
        HEAD + TASK + "deploy:\n  package: maybe\n",
        "deploy.package",
        9,
        "is not true or false",
    ),
    Case(
        "union-scalar",
        HEAD + TASK + "backbone:\n  max_length: 4\n",
        "backbone.max_length",
        9,
        "expected auto or an integer (>= 8, <= 8192)",
    ),
    Case(
        "union-typo",
        HEAD + TASK + "backbone:\n  max_length: atuo\n",
        "backbone.max_length",
        9,
        "did you mean 'auto'?",
    ),
    Case(
        "list-item",
        HEAD + TASK + "deploy:\n  formats: [torch, tf]\n",
        "deploy.formats[1]",
        9,
        "'tf' is not allowed; allowed: torch, onnx",
    ),
    Case(
        "list-of-text",
        HEAD + TASK + "strategy:\n  type: lora\n  targets: [1, query]\n",
        "strategy.targets[0]",
        10,
        "quote it",
    ),
    Case("number-as-path", "name: t\ndata:\n  train: 5\n" + TASK, "data.train", 3, "5 is not"),
    Case(
        "bad-name",
        "name: my app\ndata:\n  train: a.csv\n" + TASK,
        "name",
        1,
        "is not a name of letters, digits",
    ),
    Case(
        "bad-duration",
        HEAD + TASK + "train:\n  time_budget: 10 minutes\n",
        "train.time_budget",
        9,
        "is not a duration such as 90s",
    ),
    Case(
        "empty-string",
        HEAD + TASK + 'backbone:\n  model: ""\n',
        "backbone.model",
        9,
        "the value is empty",
    ),
    Case("empty-section", "name: t\ndata:\n" + TASK, "data", 2, "the section is empty"),
    # Missing keys and wrong nesting.
    Case(
        "missing-label",
        HEAD + "task:\n  type: classification\n  text: t\n",
        "task.label",
        4,
        "missing required key 'label'",
    ),
    Case("missing-data", "name: t\n" + TASK, "data", 1, "missing required key 'data'"),
    Case(
        "missing-type",
        HEAD + TASK + "strategy:\n  r: 8\n",
        "strategy.type",
        8,
        "add `type:` with one of: finetune",
    ),
    Case(
        "key-of-other-type",
        HEAD + TASK + "strategy:\n  type: finetune\n  r: 8\n",
        "strategy.r",
        10,
        "belongs to type lora",
    ),
    Case("wrong-level", HEAD + TASK + "epochs: 3\n", "epochs", 8, "belongs under train:"),
    Case("list-not-mapping", HEAD + TASK + "train: [1, 2]\n", "train", 8, "is not a mapping"),
    Case(
        "string-not-mapping",
        HEAD + TASK + "strategy: lora\n",
        "strategy",
        8,
        "write it as a mapping: `strategy: {type: lora}`",
    ),
    Case(
        "then-dapt",
        HEAD + TASK + "strategy:\n  type: dapt\n  then: {type: dapt}\n",
        "strategy.then.type",
        10,
        "is not a strategy to follow dapt",
    ),
    Case(
        "split-sum",
        "name: t\ndata:\n  train: a.csv\n  split: {validation: 0.5, test: 0.5}\n" + TASK,
        "data.split",
        4,
        "leaves too little to train on",
    ),
    Case(
        "duplicate-key",
        HEAD + TASK + "train:\n  epochs: 2\n  epochs: 3\n",
        "train.epochs",
        10,
        "duplicate key 'epochs' (first written on line 9)",
    ),
    Case("version", "etb: 2\n" + HEAD + TASK, "etb", 1, "spec version 2 is newer"),
    # Cross-field rules.
    Case(
        "pair-three-texts",
        HEAD + "task:\n  type: pair_classification\n  text: [a, b, c]\n  label: l\n",
        "task.text",
        6,
        "exactly two text columns, got 3",
    ),
    Case(
        "pair-same-text",
        HEAD + "task:\n  type: pair_classification\n  text: [a, a]\n  label: l\n",
        "task.text[1]",
        6,
        "both texts of the pair are column 'a'",
    ),
    Case(
        "regression-one-in-list",
        HEAD + "task:\n  type: regression\n  text: [a]\n  label: y\n",
        "task.text",
        6,
        "needs exactly two, got 1",
    ),
    Case(
        "label-is-text",
        HEAD + "task:\n  type: classification\n  text: t\n  label: t\n",
        "task.label",
        7,
        "is both the label and a text column",
    ),
    Case("ner-csv", HEAD + "task:\n  type: ner\n", "data.train", 3, "read as csv"),
    Case(
        "conll-not-ner",
        "name: t\ndata:\n  train: a.conll\n" + TASK,
        "data.train",
        3,
        "only the ner task reads",
    ),
    Case(
        "fp16-cpu",
        HEAD + TASK + "train:\n  precision: fp16\ncompute:\n  devices: cpu\n",
        "train.precision",
        9,
        "fp16 needs a GPU",
    ),
    Case(
        "fsdp-one-process",
        HEAD + TASK + "compute:\n  parallelism: fsdp\n",
        "compute.parallelism",
        9,
        "fsdp shards the model across processes",
    ),
    Case(
        "sharding-ddp",
        HEAD + TASK + "compute:\n  sharding: hybrid\n",
        "compute.sharding",
        9,
        "parallelism is ddp",
    ),
    Case(
        "hybrid-one-node",
        HEAD + TASK + "compute:\n  parallelism: fsdp\n  sharding: hybrid\n  engine: torchrun\n"
        "  processes_per_node: 2\n",
        "compute.sharding",
        10,
        "this job has one node",
    ),
    Case(
        "nodes-local", HEAD + TASK + "compute:\n  nodes: 2\n", "compute.nodes", 9, "engine is local"
    ),
    Case(
        "nodes-no-rendezvous",
        HEAD + TASK + "compute:\n  nodes: 2\n  engine: ray\n",
        "compute.rendezvous",
        9,
        "the Ray head address",
    ),
    Case(
        "rendezvous-format",
        HEAD + TASK + "compute:\n  engine: torchrun\n  rendezvous: node0\n",
        "compute.rendezvous",
        10,
        "is not host:port",
    ),
    Case(
        "split-unused",
        "name: t\ndata:\n  train: a.csv\n  validation: b.csv\n  test: c.csv\n"
        "  split: {validation: 0.1}\n" + TASK,
        "data.split",
        6,
        "split is never used",
    ),
    Case(
        "labels-twice",
        HEAD + "task:\n  type: classification\n  text: t\n  label: l\n  labels: [a, b, a]\n",
        "task.labels[2]",
        8,
        "'a' is listed twice",
    ),
    Case(
        "one-label",
        HEAD + "task:\n  type: classification\n  text: t\n  label: l\n  labels: [a]\n",
        "task.labels",
        8,
        "at least two labels",
    ),
    Case(
        "early-stopping-no-validation",
        "name: t\ndata:\n  train: a.csv\n  split: {validation: 0.0}\n"
        + TASK
        + "train:\n  early_stopping: {patience: 2}\n",
        "train.early_stopping",
        10,
        "no validation data",
    ),
    Case(
        "corpus-column-alone",
        HEAD + TASK + "strategy:\n  type: dapt\n  corpus_column: text\n",
        "strategy.corpus_column",
        10,
        "needs a corpus file",
    ),
    Case(
        "hidden-on-a-linear-head",
        HEAD + TASK + "strategy:\n  type: features\n  hidden: 64\n",
        "strategy.hidden",
        10,
        "but the head is linear",
    ),
    Case(
        "warmup-fraction-steps",
        HEAD + TASK + "train:\n  warmup: 2.5\n",
        "train.warmup",
        9,
        "not a whole number",
    ),
    Case(
        "embedding-loss-label",
        HEAD + "task:\n  type: embedding\n  text: [a, b]\n  loss: cosine\n",
        "task.loss",
        7,
        "task.label is not set",
    ),
    Case(
        "lora-no-targets",
        HEAD + TASK + "strategy:\n  type: lora\n  targets: []\n",
        "strategy.targets",
        10,
        "LoRA would train nothing",
    ),
    # tune:
    Case(
        "tune-path-typo",
        HEAD + TASK + "tune:\n  space:\n    train.learnin_rate: {uniform: [0.1, 0.2]}\n",
        'tune.space["train.learnin_rate"]',
        10,
        "did you mean 'learning_rate'?",
    ),
    Case(
        "tune-int-field",
        HEAD + TASK + "tune:\n  space:\n    train.epochs: {uniform: [1, 5]}\n",
        'tune.space["train.epochs"].uniform',
        10,
        "use {int: [lo, hi]}",
    ),
    Case(
        "tune-out-of-bounds",
        HEAD + TASK + "tune:\n  space:\n    train.learning_rate: {uniform: [0.0, 0.1]}\n",
        'tune.space["train.learning_rate"].uniform[0]',
        10,
        "outside what train.learning_rate accepts",
    ),
    Case(
        "tune-choice-literal",
        HEAD + TASK + "tune:\n  space:\n    train.precision: {choice: [bf16, fp8]}\n",
        'tune.space["train.precision"].choice[1]',
        10,
        "is outside what train.precision accepts",
    ),
    Case(
        "tune-data",
        HEAD + TASK + "tune:\n  space:\n    data.train: {choice: [a.csv, b.csv]}\n",
        'tune.space["data.train"]',
        10,
        "cannot be tuned",
    ),
    Case(
        "tune-section",
        HEAD + TASK + "tune:\n  space:\n    backbone: {choice: [a]}\n",
        "tune.space.backbone",
        10,
        "is a section",
    ),
    Case(
        "tune-other-strategy",
        HEAD + TASK + "tune:\n  space:\n    strategy.r: {int: [2, 8]}\n",
        'tune.space["strategy.r"]',
        10,
        "'r' is a setting of type lora, not finetune",
    ),
    Case(
        "tune-range-form",
        HEAD + TASK + "tune:\n  space:\n    train.learning_rate: {loguniform: [1.0e-5, 1.0e-3]}\n",
        'tune.space["train.learning_rate"]',
        10,
        "did you mean 'log_uniform'?",
    ),
    Case(
        "tune-empty-range",
        HEAD + TASK + "tune:\n  space:\n    train.epochs: {int: [5, 1]}\n",
        'tune.space["train.epochs"]',
        10,
        "the range [5, 1] is empty",
    ),
    Case(
        "tune-metric",
        HEAD + TASK + "tune:\n  metric: f1\n  space:\n    train.epochs: {int: [1, 3]}\n",
        "tune.metric",
        9,
        "not a metric of the classification task",
    ),
    Case(
        "tune-grid",
        HEAD + TASK + "tune:\n  sampler: grid\n  space:\n    train.warmup: {uniform: [0.0, 0.1]}\n",
        "tune.sampler",
        9,
        "grid sampler needs a finite set",
    ),
    Case(
        "tune-no-space",
        HEAD + TASK + "tune:\n  trials: 5\n",
        "tune.space",
        8,
        "missing required key 'space'",
    ),
    # Overrides and environment variables.
    Case(
        "set-bad-value",
        HEAD + TASK,
        "train.epochs",
        None,
        "'abc' is not an integer",
        overrides=("train.epochs=abc",),
    ),
    Case(
        "set-unknown-key",
        HEAD + TASK,
        "train.learnin_rate",
        None,
        "did you mean 'learning_rate'?",
        overrides=("train.learnin_rate=0.1",),
    ),
    Case(
        "set-into-value",
        HEAD + TASK,
        "train.epochs",
        None,
        "is a value, not a section",
        overrides=("train.epochs.max=3",),
    ),
    Case("set-no-equals", HEAD + TASK, "", None, "is not KEY=VALUE", overrides=("train.epochs",)),
    Case(
        "set-bad-yaml",
        HEAD + TASK,
        "deploy.formats",
        None,
        "cannot read the value",
        overrides=("deploy.formats=[torch",),
    ),
    Case(
        "env-unset",
        "name: t\ndata:\n  train: ${DATA_DIR}/train.csv\n" + TASK,
        "data.train",
        3,
        "environment variable DATA_DIR is not set",
    ),
    Case(
        "env-typed-bad",
        HEAD + TASK + "train:\n  epochs: ${EPOCHS}\n",
        "train.epochs",
        9,
        "'many' is not an integer",
        env=(("EPOCHS", "many"),),
    ),
    # Not YAML at all.
    Case("tab-indent", "name: t\ndata:\n\ttrain: a.csv\n", "", 3, "not valid YAML"),
    Case("unclosed-flow", HEAD + "task: {type: classification, text: t\n", "", 5, "not valid YAML"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_spec_is_reported_at_its_place(case: Case) -> None:
    problems = problems_of(case.text, case.overrides, dict(case.env))
    matching = [p for p in problems if p.path == case.path and p.line == case.line]
    rendered = "\n".join(p.render() for p in problems)
    assert matching, f"no problem at {case.path}:{case.line} in:\n{rendered}"
    assert any(case.fragment in p.message + " " + (p.hint or "") for p in matching), rendered
    for problem in matching:
        if case.overrides:
            assert problem.file == f"--set {case.overrides[0]}"
        else:
            assert problem.file == "spec.yaml"
            assert problem.column is not None and problem.column >= 1


def test_the_table_is_large() -> None:
    assert len(CASES) >= 30


def test_messages_read_well() -> None:
    problems = problems_of(HEAD + TASK + "train:\n  learnin_rate: 0.1\n")
    assert [p.render() for p in problems] == [
        "spec.yaml:9:3: train.learnin_rate: unknown key 'learnin_rate'\n"
        "    hint: did you mean 'learning_rate'?"
    ]
    (problem,) = problems_of(HEAD + "task:\n  type: clasification\n  text: t\n  label: l\n")
    assert problem.render().startswith(
        "spec.yaml:5:9: task.type: 'clasification' is not a task; allowed: classification, "
        "multilabel, pair_classification, regression, ner, embedding\n"
    )


def test_every_problem_is_collected_in_file_order() -> None:
    text = (
        "name: t\ndata:\n  train: a.csv\n  fromat: csv\ntask:\n  type: classification\n"
        "  text: t\n  label: l\ntrain:\n  epochs: 0\n  precision: fp9\n"
    )
    problems = problems_of(text, overrides=("train.batch_size=big",))
    assert [(p.path, p.line) for p in problems] == [
        ("data.fromat", 4),
        ("train.epochs", 10),
        ("train.precision", 11),
        ("train.batch_size", None),
    ]
    assert "4 problems in the spec." in SpecError(problems).render()


def test_union_branch_errors_are_merged_into_one_problem() -> None:
    problems = problems_of(HEAD + TASK + "backbone:\n  max_length: lots\n")
    assert len(problems) == 1
    assert problems[0].message == (
        "'lots' is not allowed; expected auto or an integer (>= 8, <= 8192)"
    )


def test_list_branch_errors_point_inside_the_list() -> None:
    (problem,) = problems_of(HEAD + TASK + "strategy:\n  type: lora\n  targets: [query, 3]\n")
    assert problem.path == "strategy.targets[1]"
    assert isinstance(problem, SpecProblem)


def test_rules_run_only_on_a_valid_model() -> None:
    # A model error hides the cross-field rules (they need a whole Spec), never the reverse.
    problems = problems_of(
        HEAD + TASK + "train:\n  precision: fp16\n  epochs: x\ncompute:\n  devices: cpu\n"
    )
    assert [p.path for p in problems] == ["train.epochs"]
