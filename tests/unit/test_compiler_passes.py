"""Each compiler pass on its own, from a hand-built context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_compiler_fixtures import CPU, GPU, classification_csv, isolated_cache  # noqa: F401

from etbuilder.compiler.context import CompileContext, TokenLengths
from etbuilder.compiler.passes.backbone import resolve_backbone
from etbuilder.compiler.passes.compute import layout_compute
from etbuilder.compiler.passes.estimates import activation_bytes, estimate_cost
from etbuilder.compiler.passes.max_length import choose_max_length
from etbuilder.compiler.passes.precision import choose_precision
from etbuilder.compiler.passes.profile import normalize, profile_data, sample_indices
from etbuilder.compiler.passes.read_data import read_data
from etbuilder.compiler.passes.schedule import plan_schedule
from etbuilder.compiler.passes.sources import resolve_sources
from etbuilder.compiler.passes.strategy import lower_strategy
from etbuilder.compiler.passes.task import choose_task
from etbuilder.compiler.passes.warnings import collect_warnings
from etbuilder.compiler.pipeline import PASSES, run_passes
from etbuilder.data import Examples
from etbuilder.errors import BackboneError, CompileError
from etbuilder.plan import BackboneInfo, LengthStats, SplitProfile
from etbuilder.spec import Spec

pytestmark = pytest.mark.usefixtures("isolated_cache")

BERT = BackboneInfo(
    name="minilm-l6", source="local", path="/nowhere", architecture="BertModel",
    model_type="bert", layers=6, hidden_size=384, heads=12, intermediate_size=1536,
    vocab_size=30522, max_positions=512, parameters=22_713_216,
)  # fmt: skip


def spec(**sections: Any) -> Spec:
    data = {
        "name": "unit",
        "data": {"train": "/data/train.csv"},
        "task": {"type": "classification", "text": "text", "label": "label"},
    }
    data.update(sections)
    return Spec.model_validate(data)


def ctx(s: Spec | None = None, **fields: Any) -> CompileContext:
    return CompileContext(spec=s or spec(), hardware=fields.pop("hardware", CPU), **fields)


def profiled(rows: int = 100, lengths: tuple[int, ...] = (), counts: dict[str, int] | None = None,
             **fields: Any) -> CompileContext:  # fmt: skip
    lengths = lengths or tuple(10 + i % 20 for i in range(rows))
    stats = LengthStats(p50=20, p90=28, p95=29, p99=29, max=max(lengths), mean=19.5)
    counts = counts if counts is not None else {"neg": rows // 2, "pos": rows - rows // 2}
    profile = SplitProfile(name="train", rows=rows, label_counts=counts, lengths=stats)
    base = ctx(
        fields.pop("spec", None), backbone=BERT,
        lengths=(TokenLengths("train", lengths, rows),), profiles=(profile,), **fields,
    )  # fmt: skip
    return base


def decision(c: CompileContext, key: str) -> Any:
    return next(d for d in c.decisions if d.key == key)


# resolve_backbone ---------------------------------------------------------------------------


def test_resolve_backbone_reads_the_offline_default() -> None:
    out = resolve_backbone(ctx())
    assert out.backbone is not None and out.backbone.layers == 6
    assert out.tokenizer.encode("hello world").ids[0] == 101  # [CLS]
    assert decision(out, "backbone.path").source == "default"


def test_resolve_backbone_unknown_raises_backbone_error(tmp_path: Path) -> None:
    s = spec(backbone={"model": str(tmp_path / "no-such-model")})
    with pytest.raises(BackboneError):
        resolve_backbone(ctx(s))


# resolve_sources ----------------------------------------------------------------------------


def test_resolve_sources_default_split_for_classification() -> None:
    out = resolve_sources(ctx())
    assert [s.name for s in out.sources] == ["train", "validation", "test"]
    assert [s.carved_from_train for s in out.sources] == [False, True, True]
    assert out.split is not None and out.split.stratify and out.split.seed == 13
    assert decision(out, "data.split").source == "default"


def test_resolve_sources_regression_is_not_stratified_and_max_rows_recorded() -> None:
    s = spec(
        task={"type": "regression", "text": "text", "label": "y"},
        data={"train": "/d/t.csv", "test": "/d/x.csv", "max_train_rows": 50},
    )
    out = resolve_sources(ctx(s))
    assert out.split is not None and not out.split.stratify
    assert (out.split.validation, out.split.test) == (0.1, 0.0)
    assert out.sources[0].max_rows == 50
    assert decision(out, "data.max_train_rows").value == 50


def test_resolve_sources_no_split_when_files_given() -> None:
    s = spec(data={"train": "/d/t.csv", "validation": "/d/v.csv", "test": "/d/x.csv"})
    out = resolve_sources(ctx(s))
    assert out.split is None and not any(s.carved_from_train for s in out.sources)


# read_data ----------------------------------------------------------------------------------


def test_read_data_splits_and_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(classification_csv(50))
    s = spec(data={"train": str(tmp_path / "train.csv")})
    out = read_data(resolve_sources(ctx(s)))
    assert [(r.name, r.rows) for r in out.splits] == [("train", 40), ("validation", 5), ("test", 5)]
    assert len(out.fingerprint) == 64
    assert out.splits[0].lines[0] == 2  # row 1 is the header
    again = read_data(resolve_sources(ctx(s)))
    assert again.fingerprint == out.fingerprint and again.splits == out.splits


# profile_data -------------------------------------------------------------------------------


def test_profile_counts_duplicates_overlap_and_lengths() -> None:
    tokenizer = resolve_backbone(ctx()).tokenizer
    train = Examples("train", "t", ("a b", "a b", "c", " "), labels=("x", "x", "y", "y"),
                      lines=(2, 3, 4, 5))  # fmt: skip
    test = Examples("test", "x", ("A  B", "d"), labels=("x", "z"), lines=(2, 3))
    out = profile_data(ctx(backbone=BERT, tokenizer=tokenizer, splits=(train, test)))
    p_train, p_test = out.profiles
    assert (p_train.rows, p_train.duplicates, p_train.empty_texts) == (4, 1, 1)
    assert p_train.label_counts == {"x": 2, "y": 2}
    assert p_test.unseen_labels == ["z"]
    assert out.train_test_overlap == 1
    assert p_train.lengths is not None and p_train.lengths.max == 4  # [CLS] a b [SEP]


def test_sampling_is_deterministic_and_bounded() -> None:
    assert sample_indices(10) == list(range(10))
    picked = sample_indices(100_000, 20_000)
    assert len(picked) == 20_000 and picked == sample_indices(100_000, 20_000)
    assert picked[0] == 0 and picked[-1] < 100_000
    assert normalize("  Hello\tWORLD ") == "hello world"


# choose_max_length --------------------------------------------------------------------------


def test_auto_max_length_rounds_up_and_counts_truncated() -> None:
    lengths = tuple([20] * 98 + [41, 300])
    out = choose_max_length(profiled(100, lengths))
    assert out.max_length == 48  # p99 = 41 -> 48
    assert out.profiles[0].lengths is not None and out.profiles[0].lengths.truncated == 1
    assert decision(out, "data.truncated").value == {"examples": 1, "fraction": 0.01}


def test_auto_max_length_capped_by_model() -> None:
    small = BERT.model_copy(update={"max_positions": 128})
    out = choose_max_length(profiled(10, (500,) * 10).replace(backbone=small))
    assert out.max_length == 128


def test_explicit_max_length_beyond_model_is_an_error() -> None:
    s = spec(backbone={"max_length": 1024})
    with pytest.raises(CompileError, match="at most 512"):
        choose_max_length(profiled(spec=s))


# choose_task --------------------------------------------------------------------------------


def test_choose_task_balanced_and_imbalanced() -> None:
    out = choose_task(profiled(100).replace(max_length=32))
    assert out.task is not None and out.task.labels == ["neg", "pos"]
    assert out.task.metric == "accuracy" and out.task.pooling == "cls"
    assert out.task.head == "linear(384 -> 2) on cls pooling, softmax"
    skewed = choose_task(profiled(100, counts={"a": 90, "b": 10}).replace(max_length=32))
    assert skewed.task is not None and skewed.task.metric == "f1_macro"


def test_choose_task_numeric_labels_sort_numerically() -> None:
    out = choose_task(profiled(30, counts={"10": 10, "2": 10, "1": 10}).replace(max_length=32))
    assert out.task is not None and out.task.labels == ["1", "2", "10"]


# lower_strategy -----------------------------------------------------------------------------


def _lowered(strategy: dict[str, Any]) -> CompileContext:
    c = choose_task(profiled(100, spec=spec(strategy=strategy)).replace(max_length=32))
    return lower_strategy(c)


def test_lower_finetune_group_counts_add_up_to_the_backbone() -> None:
    out = _lowered({"type": "finetune"})
    assert out.strategy is not None
    backbone = sum(g.parameters for g in out.strategy.groups if g.name != "head")
    assert backbone == BERT.parameters
    assert decision(out, "strategy.trainable_parameters").value == BERT.parameters + 770


def test_lower_lora_targets_and_errors() -> None:
    out = _lowered({"type": "lora", "r": 8, "targets": ["query", "key", "value", "dense"]})
    assert out.strategy is not None
    lora = next(g for g in out.strategy.groups if g.name == "lora")
    h, i = 384, 1536
    assert lora.parameters == 6 * 8 * (3 * 2 * h + (h + h) + (h + i) + (i + h))
    with pytest.raises(CompileError, match="use some of"):
        _lowered({"type": "lora", "targets": ["q_lin"]})


def test_lower_freeze_more_layers_than_the_model_is_an_error() -> None:
    with pytest.raises(CompileError, match="has 6 layers"):
        _lowered({"type": "freeze", "layers": 7})


def test_lower_distill_missing_teacher_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match="neither a run folder"):
        _lowered({"type": "distill", "teacher": str(tmp_path / "nothing")})


# choose_precision ---------------------------------------------------------------------------


def test_precision_auto_follows_bf16_support() -> None:
    assert choose_precision(ctx()).precision.used == "fp32"  # type: ignore[union-attr]
    bf16 = choose_precision(ctx(hardware=CPU.model_copy(update={"bf16": True})))
    assert bf16.precision is not None and bf16.precision.used == "bf16"


def test_fp16_on_cpu_is_an_error_with_a_fix() -> None:
    s = spec(train={"precision": "fp16"})
    with pytest.raises(CompileError, match=r"set train\.precision"):
        choose_precision(ctx(s))
    gpu = choose_precision(ctx(s, hardware=GPU))
    assert gpu.precision is not None and gpu.precision.used == "fp16"


def test_gpu_plan_on_a_cpu_machine_warns_and_assumes_bf16() -> None:
    out = choose_precision(ctx(spec(compute={"devices": "cuda"})))
    assert out.precision is not None and out.precision.used == "bf16"
    assert [w.code for w in out.warnings] == ["no_gpu_here"]


# layout_compute -----------------------------------------------------------------------------


def test_layout_local_refuses_many_processes() -> None:
    s = spec(compute={"engine": "local", "processes_per_node": 2})
    with pytest.raises(CompileError, match="torchrun"):
        layout_compute(ctx(s))


def test_layout_multinode_needs_rendezvous() -> None:
    s = spec(compute={"engine": "torchrun", "nodes": 2})
    with pytest.raises(CompileError, match="rendezvous"):
        layout_compute(ctx(s))


# plan_schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize(("warmup", "expected"), [(0.1, 3), (5, 5), (1000, 30)])
def test_schedule_steps_and_warmup(warmup: float, expected: int) -> None:
    s = spec(
        train={"batch_size": 8, "accumulation": 2, "epochs": 3, "warmup": warmup},
        compute={"engine": "torchrun", "processes_per_node": 2},
    )
    c = choose_task(profiled(300, spec=s).replace(max_length=32))
    out = plan_schedule(layout_compute(lower_strategy(c)))
    assert out.schedule is not None
    assert out.schedule.global_batch == 32
    assert out.schedule.steps_per_epoch == 10  # ceil(300 / 32)
    assert out.schedule.total_steps == 30
    assert out.schedule.warmup_steps == expected


# estimate_cost and collect_warnings ---------------------------------------------------------


def _estimated(strategy: dict[str, Any], hardware: Any = CPU) -> CompileContext:
    c = _lowered(strategy).replace(hardware=hardware)
    return estimate_cost(plan_schedule(layout_compute(choose_precision(c))))


def test_estimates_memory_and_flops() -> None:
    full = _estimated({"type": "finetune"})
    assert full.estimates is not None
    mem = full.estimates.memory_bytes
    trainable = full.estimates.parameters_trainable
    assert mem["weights"] == full.estimates.parameters_total * 4
    assert mem["gradients"] == trainable * 4 and mem["optimizer"] == trainable * 8
    # Korthikanti et al.: s*b*h*(34 + 5*a*s/h) bytes per layer in 16 bits, x2 in fp32
    assert mem["activations"] == 32 * 32 * 384 * (34 + 5 * 12 * 32 // 384) * 6 * 2
    assert activation_bytes(BERT, 32, 32, 6, fp32=False) * 2 == mem["activations"]
    assert "default: 60 GFLOP/s" in full.estimates.time_basis
    features = _estimated({"type": "features"})
    assert features.estimates is not None
    assert features.estimates.flops_per_epoch < full.estimates.flops_per_epoch / 10
    lora = _estimated({"type": "lora"})
    assert lora.estimates is not None
    # frozen layers the gradient flows through cost 2 forward passes instead of 3
    ratio = lora.estimates.flops_per_epoch / full.estimates.flops_per_epoch
    assert 0.6 < ratio < 0.75


def test_estimates_use_recorded_throughput() -> None:
    from etbuilder.compiler.throughput import record, throughput_file

    assert "etb-cache" in str(throughput_file())  # never the user's real cache
    backbone = _estimated({"type": "finetune"}).backbone
    assert backbone is not None
    size = backbone.parameters
    record("cpu", CPU.device_name, "fp32", 2e9, parameters=size // 20)  # a much smaller model
    out = _estimated({"type": "finetune"})
    assert out.estimates is not None and out.estimates.time_basis.startswith("default")
    record("cpu", CPU.device_name, "fp32", 30e9, parameters=size)
    out = _estimated({"type": "finetune"})
    assert out.estimates is not None and out.estimates.time_basis.startswith("measured")
    assert out.estimates.throughput_flops == 30e9


def test_collect_warnings_from_profile() -> None:
    c = _estimated({"type": "finetune"})
    assert collect_warnings(c).warnings == ()
    tiny = _estimated({"type": "finetune"}).replace(
        profiles=(SplitProfile(name="train", rows=20, label_counts={"a": 18, "b": 2}),)
    )
    codes = [w.code for w in collect_warnings(tiny).warnings]
    assert codes == ["class_imbalance", "tiny_dataset"]


# the pipeline -------------------------------------------------------------------------------


def test_run_passes_names_the_failing_pass() -> None:
    def broken(c: CompileContext) -> CompileContext:
        raise CompileError("no good")

    def buggy(c: CompileContext) -> CompileContext:
        raise KeyError("x")

    with pytest.raises(CompileError) as caught:
        run_passes(ctx(), [broken])
    assert caught.value.pass_name == "broken" and str(caught.value) == "[broken] no good"
    with pytest.raises(CompileError, match=r"\[buggy\] internal error: KeyError"):
        run_passes(ctx(), [buggy])


def test_passes_are_named_functions_in_order() -> None:
    names = [p.__name__ for p in PASSES]
    assert len(names) == len(set(names))
    assert (
        names.index("profile_data")
        < names.index("choose_max_length")
        < names.index("choose_task")
        < names.index("lower_strategy")
        < names.index("estimate_cost")
    )


def test_unlabelled_embedding_selects_on_loss() -> None:
    s = spec(task={"type": "embedding", "text": ["a", "b"]})
    out = choose_task(profiled(50, counts={}, spec=s).replace(max_length=32))
    assert out.task is not None
    assert (out.task.metric, out.task.metric_direction) == ("loss", "minimize")
    assert out.task.loss == "in_batch_negatives" and out.task.pooling == "mean"
