"""The whole compiler on tiny crafted data: every task, every strategy, determinism, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_compiler_fixtures import (
    CLASSIFICATION_SPEC,
    GPU,
    classification_csv,
    compile_project,
    isolated_cache,  # noqa: F401
    sentence,
)

from etbuilder.compiler.pipeline import PASSES
from etbuilder.compiler.strategies import LOWERINGS
from etbuilder.errors import CompileError
from etbuilder.plan import DaptPlan, Plan, final_strategy
from etbuilder.spec.strategy import DownstreamStrategy, Strategy

pytestmark = pytest.mark.usefixtures("isolated_cache")


def _pairs_csv(rows: int = 120, score: bool = True) -> str:
    lines = ["first,second,score"]
    for i in range(rows):
        lines.append(f"{sentence(i)},{sentence(i + 1)},{(i % 6) * 0.8 if score else i % 2}")
    return "\n".join(lines) + "\n"


def _conll(sentences: int = 120) -> str:
    out = []
    for i in range(sentences):
        out += [f"item{i}\tO", "Paris\tB-location", "and\tO", "New\tB-location", "York\tI-location"]
        out += [f"met{i}\tO", "Ada\tB-person", ""]
    return "\n".join(out) + "\n"


def _multilabel_jsonl(rows: int = 120) -> str:
    tags = ["news", "sport", "tech"]
    lines = []
    for i in range(rows):
        labels = [tags[i % 3]] + ([tags[(i + 1) % 3]] if i % 4 == 0 else [])
        lines.append(json.dumps({"text": sentence(i), "topics": ",".join(labels)}))
    return "\n".join(lines) + "\n"


TASKS = {
    "classification": (CLASSIFICATION_SPEC, {"train.csv": classification_csv()}),
    "multilabel": (
        """\
        etb: 1
        name: tags
        data: {train: train.jsonl}
        task: {type: multilabel, text: text, label: topics}
        """,
        {"train.jsonl": _multilabel_jsonl()},
    ),
    "pair_classification": (
        """\
        etb: 1
        name: pairs
        data:
          train: train.tsv
          validation: dev.tsv
        task: {type: pair_classification, text: [q1, q2], label: same}
        """,
        {
            "train.tsv": "q1\tq2\tsame\n"
            + "".join(f"{sentence(i)}\t{sentence(i + 3)}\t{i % 2}\n" for i in range(150)),
            "dev.tsv": "q1\tq2\tsame\n"
            + "".join(f"{sentence(i, 1)}\t{sentence(i + 3)}\t{i % 2}\n" for i in range(30)),
        },
    ),
    "regression": (
        """\
        etb: 1
        name: sts
        data: {train: train.csv}
        task: {type: regression, text: [first, second], label: score}
        """,
        {"train.csv": _pairs_csv()},
    ),
    "ner": (
        """\
        etb: 1
        name: ner
        data: {train: train.conll}
        task: {type: ner}
        """,
        {"train.conll": _conll()},
    ),
    "embedding": (
        """\
        etb: 1
        name: emb
        data: {train: train.csv}
        task: {type: embedding, text: [first, second], label: score}
        """,
        {"train.csv": _pairs_csv()},
    ),
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_compiles(tmp_path: Path, task: str) -> None:
    spec, files = TASKS[task]
    plan = compile_project(tmp_path, spec, files)
    assert plan.task.type == task
    assert plan.passes == [p.__name__ for p in PASSES]
    train = plan.data.profiles[0]
    assert train.name == "train" and train.rows > 0
    assert train.lengths is not None and train.lengths.p50 > 2
    assert plan.task.max_length % 8 == 0 and plan.task.max_length >= train.lengths.p99
    assert plan.schedule.total_steps == plan.schedule.steps_per_epoch * plan.schedule.epochs
    assert plan.estimates.memory_bytes["total"] == sum(
        v for k, v in plan.estimates.memory_bytes.items() if k != "total"
    )
    assert Plan.from_json(plan.to_json()) == plan
    keys = {d.key for d in plan.decisions}
    assert {"backbone.max_length", "task.metric", "task.loss", "schedule.warmup_steps"} <= keys


def test_task_specifics(tmp_path: Path) -> None:
    ner = compile_project(tmp_path / "ner", *TASKS["ner"])
    assert ner.task.labels == ["O", "B-location", "I-location", "B-person"]
    assert ner.task.pooling == "none" and ner.task.metric == "entity_f1"
    assert ner.task.loss == "token_cross_entropy"
    assert (ner.task.tokens, ner.task.tags, ner.task.subword_labels) == ("tokens", "tags", "first")
    multi = compile_project(tmp_path / "multi", *TASKS["multilabel"])
    assert multi.task.labels == ["news", "sport", "tech"]
    assert multi.task.loss == "bce_with_logits" and multi.task.metric == "f1_micro"
    assert (multi.task.separator, multi.task.threshold) == (",", 0.5)
    knobs = json.loads(multi.to_json())["task"]
    assert knobs["separator"] == "," and knobs["threshold"] == 0.5 and "normalize" not in knobs
    assert multi.data.split is not None and not multi.data.split.stratify
    reg = compile_project(tmp_path / "reg", *TASKS["regression"])
    stats = reg.data.profiles[0].target_stats
    assert stats is not None and stats["min"] == 0.0 and stats["max"] == 4.0
    assert reg.task.metric == "spearman" and reg.task.head.startswith("linear(384 -> 1)")
    emb = compile_project(tmp_path / "emb", *TASKS["embedding"])
    assert emb.task.pooling == "mean" and emb.task.loss == "cosine" and emb.task.normalize
    assert emb.strategy.groups[-1].parameters == 0  # no head
    pair = compile_project(tmp_path / "pair", *TASKS["pair_classification"])
    assert pair.data.split is not None and pair.data.split.validation == 0.0
    assert [p.name for p in pair.data.profiles] == ["train", "validation", "test"]


def test_default_split_is_recorded_with_reason(tmp_path: Path) -> None:
    plan = compile_project(tmp_path, CLASSIFICATION_SPEC, {"train.csv": classification_csv()})
    assert plan.data.split is not None
    assert (plan.data.split.validation, plan.data.split.test) == (0.1, 0.1)
    assert plan.data.split.stratify and plan.data.split.seed == 13
    decision = next(d for d in plan.decisions if d.key == "data.split")
    assert decision.source == "default" and "stratified" in decision.reason
    rows = {p.name: p.rows for p in plan.data.profiles}
    assert rows == {"train": 160, "validation": 20, "test": 20}
    counts = {p.name: p.label_counts for p in plan.data.profiles}
    assert counts["validation"] == {"neg": 10, "pos": 10}


STRATEGIES = {
    "finetune": "{type: finetune}",
    "features": "{type: features, head: mlp, hidden: 32}",
    "freeze": "{type: freeze, layers: 2, lr_decay: 0.5}",
    "lora": "{type: lora, r: 4}",
    "distill": "{type: distill, teacher: teacher_run, student_layers: 3}",
    "dapt": "{type: dapt, corpus: corpus.txt, steps: 10, then: {type: lora, r: 2}}",
}


def _strategy_plan(tmp_path: Path, strategy: str) -> Plan:
    files: dict[str, str | bytes] = {
        "train.csv": classification_csv(),
        "corpus.txt": "some in-domain text\nmore of it\n",
    }
    if strategy == "distill":  # a finished teacher run: its folder holds the plan it ran
        teacher = compile_project(tmp_path / "teacher", CLASSIFICATION_SPEC, files)
        files["teacher_run/plan.json"] = teacher.to_json()
    spec = CLASSIFICATION_SPEC + f"strategy: {STRATEGIES[strategy]}\n"
    return compile_project(tmp_path, spec, files)


def test_distill_teacher_must_match_the_task(tmp_path: Path) -> None:
    from etbuilder.errors import CompileError

    teacher = compile_project(
        tmp_path / "t", CLASSIFICATION_SPEC, {"train.csv": classification_csv()}
    )
    files: dict[str, str | bytes] = {
        "train.csv": classification_csv().replace(",neg", ",bad"),
        "teacher_run/plan.json": teacher.to_json(),
    }
    spec = CLASSIFICATION_SPEC + f"strategy: {STRATEGIES['distill']}\n"
    with pytest.raises(CompileError, match=r"\[lower_strategy\].*labels \['neg', 'pos'\]"):
        compile_project(tmp_path, spec, files)
    files["teacher_run/plan.json"] = "{not json"
    with pytest.raises(CompileError, match="not a readable plan"):
        compile_project(tmp_path, spec, files)


def test_strategy_table_matches_the_spec() -> None:
    import typing

    def types(union: object) -> set[str]:
        members = typing.get_args(typing.get_args(union)[0])
        return {typing.get_args(m.model_fields["type"].annotation)[0] for m in members}

    assert set(LOWERINGS) == types(Strategy) == set(STRATEGIES)
    assert types(DownstreamStrategy) < set(LOWERINGS)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_compiles(tmp_path: Path, strategy: str) -> None:
    plan = _strategy_plan(tmp_path, strategy)
    s = plan.strategy
    assert s.type == strategy and s.actions
    final = final_strategy(s)
    assert final.trainable_parameters == sum(g.parameters for g in final.groups if g.trainable)
    assert plan.estimates.parameters_trainable == final.trainable_parameters
    assert Plan.from_json(plan.to_json()) == plan


def test_strategy_lowering_details(tmp_path: Path) -> None:
    fine = _strategy_plan(tmp_path / "f", "finetune")
    assert all(g.trainable for g in fine.strategy.groups)
    assert fine.estimates.parameters_trainable == fine.estimates.parameters_total

    features = _strategy_plan(tmp_path / "x", "features").strategy
    assert [g.name for g in features.groups if g.trainable] == ["head"]
    assert features.groups[-1].parameters == 384 * 32 + 32 + 32 * 2 + 2
    assert len(features.cache_key) == 16

    freeze = _strategy_plan(tmp_path / "z", "freeze").strategy
    frozen = [g.name for g in freeze.groups if not g.trainable]
    assert frozen == ["embeddings", "encoder.layer.0", "encoder.layer.1"]
    scales = {g.name: g.lr_scale for g in freeze.groups}
    assert scales["head"] == 1.0 and scales["encoder.layer.5"] == 0.5
    assert scales["encoder.layer.4"] == 0.25

    lora = _strategy_plan(tmp_path / "l", "lora").strategy
    assert lora.target_modules == ["query", "value"]
    adapters = next(g for g in lora.groups if g.name == "lora")
    assert adapters.parameters == 6 * 2 * 4 * (384 + 384)
    assert lora.trainable_parameters == adapters.parameters + 384 * 2 + 2

    distill = _strategy_plan(tmp_path / "d", "distill").strategy
    assert distill.student_layers == [1, 3, 5]
    assert distill.teacher_kind == "run"
    assert distill.teacher_layers == 6
    assert sum(g.name.startswith("encoder.layer.") for g in distill.groups) == 3

    dapt = _strategy_plan(tmp_path / "a", "dapt")
    assert isinstance(dapt.strategy, DaptPlan) and dapt.strategy.then.type == "lora"
    assert dapt.strategy.mlm_head == "initialised"
    assert dapt.strategy.corpus.endswith("corpus.txt")
    assert dapt.estimates.flops_once > 0


COMPUTE = {
    "torchrun": (
        "compute: {engine: torchrun, processes_per_node: auto}",
        [["torchrun", "--standalone", "--nproc-per-node", "4", "-m",
          "etbuilder.cli.launch", "runs/tiny/plan.json"]],
    ),
    "multinode": (
        "compute: {engine: torchrun, nodes: 2, processes_per_node: 4, rendezvous: 'h0:29500'}",
        [["torchrun", "--nnodes", "2", "--nproc-per-node", "4", "--node-rank", str(rank),
          "--master-addr", "h0", "--master-port", "29500",
          "-m", "etbuilder.cli.launch", "runs/tiny/plan.json"] for rank in (0, 1)],
    ),
    "ray": (  # one driver; Ray Train starts the 2 x 4 workers where the cluster has room
        "compute: {engine: ray, nodes: 2, processes_per_node: 4, rendezvous: 'h0:6379'}",
        [["etb", "run", "__spec__", "--output", "runs/tiny"]],
    ),
}  # fmt: skip


@pytest.mark.parametrize("engine", sorted(COMPUTE))
def test_compute_layout_commands(tmp_path: Path, engine: str) -> None:
    text, argv = COMPUTE[engine]
    spec = CLASSIFICATION_SPEC + text + "\n"
    plan = compile_project(tmp_path, spec, {"train.csv": classification_csv()}, hardware=GPU)
    spec_file = str((tmp_path / "spec.yaml").resolve())
    argv = [[spec_file if a == "__spec__" else a for a in line] for line in argv]
    assert [c.argv for c in plan.compute.commands] == argv
    assert plan.compute.address == ("h0:6379" if engine == "ray" else None)
    assert not plan.compute.sparse_embeddings, "dense gradients under DDP"
    assert plan.schedule.global_batch == 32 * plan.compute.world_size
    assert plan.precision.used == "bf16"
    assert all(c.env["OMP_NUM_THREADS"] == str(32 // 4) for c in plan.compute.commands)


GLOBAL_BATCH = {  # layout -> (per-process batch, accumulation) that keep global_batch 64
    "compute: {engine: local}": (32, 2),
    "compute: {engine: torchrun, processes_per_node: 2}": (32, 1),
    "compute: {engine: torchrun, nodes: 2, processes_per_node: 4, rendezvous: 'h0:1'}": (8, 1),
    "compute: {engine: ray, processes_per_node: 2}\ntrain: {batch_size: 12}": (8, 4),
}


@pytest.mark.parametrize("layout", sorted(GLOBAL_BATCH))
def test_global_batch_is_kept_in_every_layout(tmp_path: Path, layout: str) -> None:
    spec = CLASSIFICATION_SPEC + layout + "\n"
    if "train:" in layout:
        spec = spec.replace("train: {", "train: {global_batch: 64, ", 1)
    else:
        spec = spec + "train: {global_batch: 64}\n"
    plan = compile_project(tmp_path, spec, {"train.csv": classification_csv()})
    s = plan.schedule
    assert (s.batch_size, s.accumulation) == GLOBAL_BATCH[layout]
    assert s.global_batch == s.batch_size * s.processes * s.accumulation == 64
    assert {d.key for d in plan.decisions} >= {"schedule.batch_size", "schedule.accumulation"}


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("{global_batch: 63}", "cannot be split over 2 processes: choose a multiple of 2, e.g. 64"),
        ("{global_batch: 64, accumulation: 2}", "remove one of them"),
    ],
)
def test_global_batch_that_cannot_be_kept(tmp_path: Path, train: str, message: str) -> None:
    spec = CLASSIFICATION_SPEC + "compute: {engine: torchrun, processes_per_node: 2}\n"
    spec += f"train: {train}\n"
    with pytest.raises(CompileError, match=message) as info:
        compile_project(tmp_path, spec, {"train.csv": classification_csv()})
    assert info.value.pass_name == "plan_schedule"


UNAVAILABLE = {
    "fsdp-on-ray": (
        "compute: {engine: ray, processes_per_node: 2, parallelism: fsdp}",
        "runs on torchrun in this version, not on engine ray",
    ),
    "fsdp-features": (
        "compute: {engine: torchrun, processes_per_node: 2, parallelism: fsdp}\n"
        "strategy: {type: features}",
        "strategy features runs a whole model in one process",
    ),
    "fsdp-fp16": (
        "compute: {engine: torchrun, processes_per_node: 2, parallelism: fsdp}\n"
        "train: {precision: fp16}",
        "use `train.precision: bf16`",
    ),
}


@pytest.mark.parametrize("case", sorted(UNAVAILABLE))
def test_fields_this_version_cannot_carry_out_stop_the_plan(tmp_path: Path, case: str) -> None:
    text, expected = UNAVAILABLE[case]
    spec = CLASSIFICATION_SPEC + text + "\n"
    with pytest.raises(CompileError) as info:
        compile_project(tmp_path, spec, {"train.csv": classification_csv()}, hardware=GPU)
    message = str(info.value)
    assert "`compute.parallelism: fsdp`" in message and expected in message
    assert info.value.pass_name == "refuse_unavailable"
    assert "\n" not in message, "one line"
    assert "use `" in message or "remove the section" in message, "says what to write instead"


def test_local_command_names_the_spec(tmp_path: Path) -> None:
    plan = compile_project(tmp_path, CLASSIFICATION_SPEC, {"train.csv": classification_csv()})
    argv = plan.compute.commands[0].argv
    assert argv == ["etb", "run", str((tmp_path / "spec.yaml").resolve()), "--output", "runs/tiny"]


def test_same_spec_and_data_give_identical_bytes(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"train.csv": classification_csv()}
    first = compile_project(tmp_path, CLASSIFICATION_SPEC, files).to_json()
    second = compile_project(tmp_path, CLASSIFICATION_SPEC, files).to_json()
    assert first == second
    changed = compile_project(tmp_path, CLASSIFICATION_SPEC, {"train.csv": classification_csv(198)})
    assert (
        json.loads(changed.to_json())["data"]["fingerprint"]
        != json.loads(first)["data"]["fingerprint"]
    )


def _spec_teacher_project(tmp_path: Path, teacher: str) -> Plan:
    scores = "text,label\n" + "".join(f"text number {i},{i % 5}.5\n" for i in range(60))
    files: dict[str, str | bytes] = {
        "train.csv": classification_csv(),
        "scores.csv": scores,
        "teacher.yaml": teacher,
    }
    spec = (
        CLASSIFICATION_SPEC
        + "strategy: {type: distill, teacher: teacher.yaml, student_layers: 3}\n"
    )
    return compile_project(tmp_path, spec, files)


def test_a_spec_teacher_is_planned_as_a_stage_with_its_estimate(tmp_path: Path) -> None:
    plan = _spec_teacher_project(tmp_path, CLASSIFICATION_SPEC + "train: {epochs: 2}\n")
    teacher = compile_project(
        tmp_path / "t",
        CLASSIFICATION_SPEC + "train: {epochs: 2}\n",
        {"train.csv": classification_csv()},
    )
    distill = plan.strategy
    assert distill.type == "distill" and distill.teacher_kind == "spec"
    assert distill.teacher == str(tmp_path / "teacher.yaml")
    assert distill.teacher_seconds == teacher.estimates.seconds_total > 0
    assert distill.teacher_layers == 6 and distill.teacher_parameters == (
        teacher.estimates.parameters_total
    )
    assert plan.estimates.seconds_teacher == pytest.approx(distill.teacher_seconds, abs=0.1)
    alone = _strategy_plan(tmp_path / "run", "distill")  # the same student, a run teacher
    assert plan.estimates.seconds_total == pytest.approx(
        alone.estimates.seconds_total + distill.teacher_seconds, abs=0.2
    )
    assert distill.actions[0].startswith(f"train the teacher from spec {tmp_path}/teacher.yaml")
    assert "2 epochs" in distill.actions[0] and "teacher/" in distill.actions[0]
    assert {d.key for d in plan.decisions} >= {"strategy.teacher", "strategy.teacher_seconds"}


@pytest.mark.parametrize(
    ("teacher", "message"),
    [
        ("etb: 1\nname: t\n", r"teacher spec .*teacher\.yaml is not valid:\n.*data"),
        (
            CLASSIFICATION_SPEC.replace("train.csv", "missing.csv"),
            r"teacher spec .*teacher\.yaml does not compile:\n.*missing\.csv",
        ),
        (
            CLASSIFICATION_SPEC.replace("classification", "regression").replace(
                "train.csv", "scores.csv"
            ),
            r"teacher at .*teacher\.yaml is trained for regression, this spec is classification",
        ),
        (
            CLASSIFICATION_SPEC + "  labels: [pos, neg]\n",
            r"the teacher's labels \['pos', 'neg'\] differ from this task's \['neg', 'pos'\]",
        ),
        (
            CLASSIFICATION_SPEC
            + "tune: {space: {train.learning_rate: {log_uniform: [1.0e-5, 1.0e-3]}}}\n",
            r"has a `tune:` section; a teacher is trained once",
        ),
        (
            CLASSIFICATION_SPEC + "strategy: {type: distill, teacher: other.yaml}\n",
            r"distils from a spec itself .*other\.yaml",
        ),
    ],
    ids=["invalid", "no-data", "other-task", "other-labels", "tune", "chain"],
)
def test_a_bad_spec_teacher_says_what_is_wrong(tmp_path: Path, teacher: str, message: str) -> None:
    with pytest.raises(CompileError, match=r"strategy\.teacher: (?s:.*)" + message):
        _spec_teacher_project(tmp_path, teacher)


def test_a_missing_spec_teacher_names_the_path(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"train.csv": classification_csv()}
    spec = CLASSIFICATION_SPEC + "strategy: {type: distill, teacher: techer.yaml}\n"
    with pytest.raises(CompileError, match=r"no spec file at .*techer\.yaml; check the path"):
        compile_project(tmp_path, spec, files)
