"""The Plan: what a run will do, every chosen value with its reason. Versioned, frozen, JSON.

The compiler builds it from a Spec and the data (no torch); the runtime executes it.
The same spec and data give byte-identical JSON (`Plan.to_json()`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from etbuilder.plan.base import PlanModel
from etbuilder.plan.strategy import StrategyPlan
from etbuilder.plan.tune import TunePlan
from etbuilder.spec import Spec
from etbuilder.spec.task import TaskType

PLAN_VERSION = 2
"""2: typed strategy plans, the deploy record."""


class Decision(PlanModel):
    """A value the compiler chose (or took from the spec), and why."""

    key: str
    """Dotted name, e.g. `backbone.max_length`, `schedule.warmup_steps`."""
    value: Any
    reason: str
    source: Literal["spec", "default", "inferred"] = "inferred"
    """spec: the user wrote it; default: the schema default; inferred: computed from data or
    hardware."""


class PlanWarning(PlanModel):
    """Something the user should look at before spending compute."""

    code: str
    """Stable identifier: class_imbalance, truncation, tiny_dataset, train_test_overlap,
    batch_too_large, duplicate_rows, empty_texts, unseen_labels, ..."""
    message: str


class BackboneInfo(PlanModel):
    """The resolved pretrained model, read from config.json and tokenizer files only."""

    name: str
    """What the spec said (alias, hub id or path)."""
    source: Literal["zoo-package", "hf-cache", "hf-online", "local"]
    path: str
    """Local folder holding config.json (and weights for the runtime)."""
    architecture: str
    model_type: str
    layers: int
    hidden_size: int
    heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    parameters: int
    """Parameter count of the bare encoder, computed from the config."""
    has_mlm_head: bool = False
    """Whether the weights ship a masked-LM head (dapt initialises one when not)."""


class SplitSource(PlanModel):
    """Where one split's rows come from."""

    name: Literal["train", "validation", "test"]
    path: str
    format: Literal["csv", "tsv", "jsonl", "parquet", "conll"]
    delimiter: str | None = None
    header: bool = True
    columns: list[str] | None = None
    quoting: bool = True
    encoding: str = "utf-8"
    max_rows: int | None = None
    carved_from_train: bool = False
    """True when this split is a seeded slice of the training file (see DataPlan.split)."""


class SplitRecipe(PlanModel):
    """How validation/test were carved out of train; `etbuilder.data.split` replays it."""

    validation: float
    test: float
    stratify: bool
    seed: int
    algorithm: str = "etb-split-v1"


class LengthStats(PlanModel):
    """Token counts per example with the backbone's tokenizer (special tokens included)."""

    p50: int
    p90: int
    p95: int
    p99: int
    max: int
    mean: float
    truncated: int = 0
    """Examples longer than the chosen max_length."""


class SplitProfile(PlanModel):
    """What one split holds."""

    name: str
    rows: int
    empty_texts: int = 0
    duplicates: int = 0
    label_counts: dict[str, int] = Field(default_factory=dict)
    """Per label (classification/ner tags), sorted by label."""
    target_stats: dict[str, float] | None = None
    """min/max/mean/std of a regression target."""
    lengths: LengthStats | None = None
    unseen_labels: list[str] = Field(default_factory=list)
    """Labels in this split that training never shows."""


class DataPlan(PlanModel):
    sources: list[SplitSource]
    split: SplitRecipe | None = None
    profiles: list[SplitProfile]
    train_test_overlap: int = 0
    """Test texts that also occur in train."""
    fingerprint: str
    """sha256 over the files' bytes and read options: keys caches."""


class TaskPlan(PlanModel):
    type: TaskType
    text_columns: list[str] = Field(default_factory=list)
    label_column: str | None = None
    labels: list[str] = Field(default_factory=list)
    """Index -> label name: the label mapping of the head."""
    head: str
    """e.g. `linear(384 -> 2) on cls pooling`."""
    loss: str
    """e.g. `cross_entropy`, `bce_with_logits`, `mse`, `token_cross_entropy`, `cosine`."""
    metric: str
    metric_direction: Literal["maximize", "minimize"]
    pooling: Literal["cls", "mean", "max", "none"]
    max_length: int
    threshold: float | None = None
    """multilabel: the probability above which a label is predicted."""
    separator: str | None = None
    """multilabel: the separator between labels inside the label column."""
    tokens: str | None = None
    """ner: the column holding the token lists."""
    tags: str | None = None
    """ner: the column holding the tag lists."""
    subword_labels: Literal["first"] | None = None
    """ner: which sub-token of a word carries its tag."""
    normalize: bool | None = None
    """embedding: whether the vectors are L2-normalised."""

    @model_serializer(mode="wrap")
    def _drop_unset_knobs(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The knobs a task does not have stay out of the JSON."""
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k not in TASK_KNOBS or v is not None}


TASK_KNOBS = ("threshold", "separator", "tokens", "tags", "subword_labels", "normalize")
"""TaskPlan fields that only some tasks have (left out of the JSON where unset)."""


class EarlyStoppingPlan(PlanModel):
    """Stop when the validation metric stops improving (`train.early_stopping`)."""

    patience: int
    """Evaluations without improvement before training stops."""
    min_delta: float = 0.0
    """Smallest change of the metric that counts as an improvement."""


class SchedulePlan(PlanModel):
    epochs: int
    batch_size: int
    """Per process."""
    accumulation: int
    processes: int
    global_batch: int
    steps_per_epoch: int
    """Optimizer steps per epoch."""
    total_steps: int
    warmup_steps: int
    learning_rate: float
    schedule: Literal["linear", "cosine", "constant"]
    weight_decay: float
    max_grad_norm: float | None
    seed: int
    deterministic: bool
    time_budget_s: float | None
    checkpoint_every: int | None
    eval_every: int | None
    keep_checkpoints: int
    early_stopping: EarlyStoppingPlan | None = None


class HardwareInfo(PlanModel):
    device: Literal["cpu", "cuda"]
    device_name: str
    device_count: int
    cpu_cores: int
    memory_bytes: int
    """Host RAM, or the GPU memory of one device when device is cuda."""
    bf16: bool
    """Whether bf16 runs natively and fast (avx512_bf16/amx on CPU, Ampere+ on GPU)."""


class PrecisionPlan(PlanModel):
    requested: Literal["auto", "fp32", "bf16", "fp16"]
    used: Literal["fp32", "bf16", "fp16"]
    reason: str


class NodeCommand(PlanModel):
    node: int
    argv: list[str]
    env: dict[str, str] = Field(default_factory=dict)


class ComputePlan(PlanModel):
    engine: Literal["local", "torchrun", "ray"]
    nodes: int
    processes_per_node: int
    world_size: int
    parallelism: Literal["ddp", "fsdp"]
    sharding: Literal["full", "hybrid"] | None = None
    """fsdp: full (one shard group of every process) or hybrid (shard within a node, replicate
    across nodes); None under ddp."""
    collective_timeout_s: float = 1800.0
    """How long a process waits in one collective before the job fails (torch's own default
    when a plan does not say)."""
    threads_per_process: int
    commands: list[NodeCommand]
    """The exact command line(s) each node runs."""
    sparse_embeddings: bool = True
    """Lazy AdamW rows for the word embeddings (one CPU process only: DDP needs dense
    gradients, so a run that must match a DDP run bit for bit turns it off)."""
    address: str | None = None
    """engine ray: the Ray cluster to join (None starts a local Ray)."""


class Estimates(PlanModel):
    parameters_total: int
    parameters_trainable: int
    memory_bytes: dict[str, int]
    """weights, gradients, optimizer, activations, total (per process)."""
    flops_per_epoch: float
    """Training plus the evaluation pass of one epoch."""
    flops_once: float = 0.0
    """One-off work outside the epochs: feature caching, teacher logits, the masked-LM phase."""
    throughput_flops: float = 0.0
    """FLOP/s the time estimate assumes (all processes together)."""
    seconds_per_epoch: float
    seconds_total: float
    seconds_teacher: float = 0.0
    """The teacher stage of a distill run whose teacher is a spec (included in seconds_total)."""
    time_basis: str
    """Where the throughput figure comes from (a recorded run on this machine, or the default)."""


class ServerLimits(PlanModel):
    """What the app's server accepts and how long it waits to micro-batch."""

    max_batch_size: int
    max_text_chars: int
    max_body_bytes: int
    batch_wait_ms: float


class DeployPlan(PlanModel):
    """The app `etb run` builds at the end: what it holds, what it serves, its limits."""

    package: bool
    """Whether `etb run` packages the app (else `etb package RUN` does it later)."""
    formats: list[Literal["torch", "onnx"]]
    """Extra formats beside the one ONNX graph the server runs: `torch` adds the Hugging Face
    folder, `onnx` the fp32 graph (empty: the served graph only)."""
    quantization: Literal["auto", "int8", "none"]
    """auto: the smallest int8 recipe the quality gate measures within 0.5 point of fp32 at
    batch 1 and at the largest batch, on the test and validation splits; else fp32."""
    server: ServerLimits


class Plan(PlanModel):
    version: int = PLAN_VERSION
    etbuilder_version: str
    spec: Spec
    """The resolved spec (absolute paths, overrides applied)."""
    spec_hash: str
    backbone: BackboneInfo
    hardware: HardwareInfo
    data: DataPlan
    task: TaskPlan
    strategy: StrategyPlan
    schedule: SchedulePlan
    precision: PrecisionPlan
    compute: ComputePlan
    estimates: Estimates
    deploy: DeployPlan
    tune: TunePlan | None = None
    """The study, when the spec has `tune:` (the other records are its trial 0)."""
    decisions: list[Decision]
    warnings: list[PlanWarning]
    passes: list[str]
    """Names of the compiler passes that built this plan, in order."""

    def to_json(self) -> str:
        """Canonical JSON: the same plan gives the same bytes."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.model_validate_json(text)
