"""Cross-field rules: checks that need more than one field, run after the models validated.

Each rule is a small named function `(spec, context) -> list[Finding]`, listed in `RULES` below.
A finding names a data path; the loader turns it into a located `SpecProblem`. Checks that need the
data files or the hardware belong to the compiler, not here. The rules of the training setup
(precision, compute layout, deploy) live in `training_rules`, those of `tune:` in `tune_rules`;
all are listed in `RULES` here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etbuilder.spec._finding import Finding, Rule, RuleContext
from etbuilder.spec._yaml import DataPath
from etbuilder.spec.data import EXTENSION_FORMATS, DataFile, DataSpec
from etbuilder.spec.spec import Spec
from etbuilder.spec.strategy import DaptStrategy, DistillStrategy, FeaturesStrategy, LoraStrategy
from etbuilder.spec.task import (
    ClassificationTask,
    EmbeddingTask,
    NerTask,
    PairClassificationTask,
    RegressionTask,
)
from etbuilder.spec.training_rules import (
    early_stopping_needs_validation,
    fp16_needs_gpu,
    fsdp_needs_processes,
    multi_node_needs_launcher,
    rendezvous_is_host_port,
    sharding_needs_fsdp,
    warmup_steps_are_whole,
)
from etbuilder.spec.tune_rules import tune_metric_fits_task, tune_sampler_fits, tune_space_fits

__all__ = ["RULES", "Finding", "Rule", "RuleContext", "run_rules"]


def pair_needs_two_texts(spec: Spec, context: RuleContext) -> list[Finding]:
    """pair_classification reads exactly two distinct text columns."""
    task = spec.task
    if not isinstance(task, PairClassificationTask):
        return []
    if len(task.text) != 2:
        return [
            Finding(
                ("task", "text"),
                f"pair_classification needs exactly two text columns, got {len(task.text)}",
                "e.g. text: [question1, question2]",
            )
        ]
    return _distinct_pair(task.text)


def text_pair_lists(spec: Spec, context: RuleContext) -> list[Finding]:
    """A list of text columns (regression, embedding) is a pair: two distinct columns."""
    task = spec.task
    if not isinstance(task, RegressionTask | EmbeddingTask) or not isinstance(task.text, list):
        return []
    if len(task.text) != 2:
        return [
            Finding(
                ("task", "text"),
                f"a list of text columns is a pair and needs exactly two, got {len(task.text)}",
                "name one column for single texts, two for pairs",
            )
        ]
    return _distinct_pair(task.text)


def _distinct_pair(columns: list[str]) -> list[Finding]:
    if columns[0] != columns[1]:
        return []
    return [Finding(("task", "text", 1), f"both texts of the pair are column '{columns[0]}'", None)]


def label_is_not_text(spec: Spec, context: RuleContext) -> list[Finding]:
    """The label column cannot also be a text column."""
    text = getattr(spec.task, "text", None)
    label = getattr(spec.task, "label", None)
    texts = text if isinstance(text, list) else [text]
    if label is not None and label in texts:
        return [
            Finding(
                ("task", "label"),
                f"'{label}' is both the label and a text column",
                "the model would see the answer; name the column that holds the label",
            )
        ]
    return []


def _file_format(source: DataFile, data: DataSpec) -> str | None:
    chosen = source.format or data.format
    if chosen != "auto":
        return chosen
    return EXTENSION_FORMATS.get(Path(source.path).suffix.lower())


def _format_path(name: str, source: DataFile, data: DataSpec, raw: dict[str, Any]) -> DataPath:
    if source.format is not None:
        return ("data", name, "format")
    if data.format != "auto" and "format" in raw.get("data", {}):
        return ("data", "format")
    return ("data", name)


def _files(data: DataSpec) -> Iterator[tuple[str, DataFile]]:
    for name in ("train", "validation", "test"):
        source = getattr(data, name)
        if source is not None:
            yield name, source


def ner_reads_token_files(spec: Spec, context: RuleContext) -> list[Finding]:
    """ner needs conll files or jsonl/parquet with list columns; conll is only for ner."""
    findings = []
    is_ner = isinstance(spec.task, NerTask)
    for name, source in _files(spec.data):
        form = _file_format(source, spec.data)
        where = _format_path(name, source, spec.data, context.raw)
        if is_ner and form in ("csv", "tsv"):
            findings.append(
                Finding(
                    where,
                    f"the ner task reads token and tag lists, but data.{name} is read as {form}",
                    "use conll files (token<TAB>tag lines), or jsonl/parquet with list columns",
                )
            )
        elif not is_ner and form == "conll":
            findings.append(
                Finding(
                    where,
                    f"data.{name} is read as conll (tagged tokens), which only the ner task reads",
                    "set data.format (or the file's format) to csv, tsv, jsonl or parquet",
                )
            )
    return findings


def _strategies(spec: Spec) -> Iterator[tuple[DataPath, Any]]:
    yield ("strategy",), spec.strategy
    if isinstance(spec.strategy, DaptStrategy):
        yield ("strategy", "then"), spec.strategy.then


def distill_teacher_is_not_self(spec: Spec, context: RuleContext) -> list[Finding]:
    """A distillation teacher cannot be the spec being trained."""
    findings = []
    for path, strategy in _strategies(spec):
        if not isinstance(strategy, DistillStrategy) or context.spec_path is None:
            continue
        if Path(strategy.teacher).resolve() == context.spec_path:
            findings.append(
                Finding(
                    (*path, "teacher"),
                    "the teacher is this spec itself",
                    "point teacher at a finished run folder or another spec (a bigger model)",
                )
            )
    return findings


def dapt_corpus_column_needs_corpus(spec: Spec, context: RuleContext) -> list[Finding]:
    """dapt's corpus_column names a column of the corpus file, so it needs `corpus`."""
    strategy = spec.strategy
    if isinstance(strategy, DaptStrategy) and strategy.corpus_column and not strategy.corpus:
        return [
            Finding(
                ("strategy", "corpus_column"),
                "corpus_column needs a corpus file to read the column from",
                "add strategy.corpus: path/to/file, or remove corpus_column to adapt on the "
                "task's own training texts",
                key=True,
            )
        ]
    return []


def hidden_needs_mlp_head(spec: Spec, context: RuleContext) -> list[Finding]:
    """features' `hidden` sizes the MLP head's hidden layer: a linear head has none."""
    findings = []
    for path, strategy in _strategies(spec):
        raw: Any = context.raw
        for key in path:
            raw = raw.get(key) if isinstance(raw, dict) else None
        written = isinstance(raw, dict) and "hidden" in raw
        default = FeaturesStrategy.model_fields["hidden"].default
        if (
            isinstance(strategy, FeaturesStrategy)
            and strategy.head == "linear"
            and written
            and strategy.hidden != default  # a resolved spec writes the default out: harmless
        ):
            findings.append(
                Finding(
                    (*path, "hidden"),
                    "hidden sizes the hidden layer of an MLP head, but the head is linear",
                    "set head: mlp to train an MLP head, or remove hidden",
                    key=True,
                )
            )
    return findings


def split_is_used(spec: Spec, context: RuleContext) -> list[Finding]:
    """A split with both validation and test files has nothing left to carve out."""
    data = spec.data
    if data.split is not None and data.validation is not None and data.test is not None:
        return [
            Finding(
                ("data", "split"),
                "split is never used: validation and test both come from files",
                "remove data.split, or one of the files to carve it out of train instead",
                key=True,
            )
        ]
    return []


def lists_are_unique(spec: Spec, context: RuleContext) -> list[Finding]:
    """Labels, column names, deploy formats and LoRA targets list each value once."""
    lists: list[tuple[DataPath, list[Any] | None]] = [
        (("task", "labels"), getattr(spec.task, "labels", None)),
        (("data", "columns"), spec.data.columns),
        (("deploy", "formats"), list(spec.deploy.formats)),
    ]
    lists += [((*path, "columns"), source.columns) for path, source in _source_paths(spec)]
    for path, strategy in _strategies(spec):
        if isinstance(strategy, LoraStrategy) and isinstance(strategy.targets, list):
            lists.append(((*path, "targets"), strategy.targets))
    findings = []
    for path, values in lists:
        seen: set[Any] = set()
        for index, value in enumerate(values or []):
            if value in seen:
                findings.append(Finding((*path, index), f"'{value}' is listed twice"))
            seen.add(value)
    return findings


def _source_paths(spec: Spec) -> Iterator[tuple[DataPath, DataFile]]:
    for name, source in _files(spec.data):
        yield ("data", name), source


def classifier_has_two_labels(spec: Spec, context: RuleContext) -> list[Finding]:
    """A classifier's fixed label set needs at least two labels (one label predicts nothing)."""
    task = spec.task
    labels = task.labels if isinstance(task, ClassificationTask | PairClassificationTask) else None
    if labels is not None and len(labels) < 2:
        return [
            Finding(
                ("task", "labels"),
                f"a classifier needs at least two labels, got {len(labels)}",
                "list every label, or leave labels out to take them from the training data",
            )
        ]
    return []


def embedding_loss_fits(spec: Spec, context: RuleContext) -> list[Finding]:
    """Pair losses need two text columns; scored losses also need a label column."""
    task = spec.task
    if not isinstance(task, EmbeddingTask) or task.loss == "auto":
        return []
    if not isinstance(task.text, list):
        return [
            Finding(
                ("task", "loss"),
                f"loss {task.loss} trains on pairs of texts, but task.text names one column",
                "set task.text: [first, second]",
            )
        ]
    if task.loss in ("cosine", "contrastive") and task.label is None:
        return [
            Finding(
                ("task", "loss"),
                f"loss {task.loss} learns from a score or 0/1 label per pair, but task.label "
                "is not set",
                "set task.label, or use loss: in_batch_negatives",
            )
        ]
    return []


def lora_targets_not_empty(spec: Spec, context: RuleContext) -> list[Finding]:
    """An empty LoRA target list would adapt nothing."""
    return [
        Finding(
            (*path, "targets"),
            "the target list is empty, so LoRA would train nothing",
            "list module names (e.g. [query, value]) or use targets: auto",
        )
        for path, strategy in _strategies(spec)
        if isinstance(strategy, LoraStrategy) and strategy.targets == []
    ]


RULES: list[Rule] = [
    pair_needs_two_texts,
    text_pair_lists,
    label_is_not_text,
    ner_reads_token_files,
    distill_teacher_is_not_self,
    dapt_corpus_column_needs_corpus,
    hidden_needs_mlp_head,
    fp16_needs_gpu,
    fsdp_needs_processes,
    sharding_needs_fsdp,
    multi_node_needs_launcher,
    rendezvous_is_host_port,
    split_is_used,
    lists_are_unique,
    classifier_has_two_labels,
    early_stopping_needs_validation,
    embedding_loss_fits,
    warmup_steps_are_whole,
    lora_targets_not_empty,
    tune_space_fits,
    tune_metric_fits_task,
    tune_sampler_fits,
]
"""Every cross-field rule, in the order its findings are reported."""


def run_rules(spec: Spec, context: RuleContext) -> list[Finding]:
    """The findings of every rule in `RULES`."""
    return [finding for rule in RULES for finding in rule(spec, context)]
