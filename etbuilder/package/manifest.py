"""manifest.json: what the app serves, with which limits, measured how, built from what."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from etbuilder import __version__
from etbuilder.plan import Plan
from etbuilder.plan.tasks import TASK_RULES

MANIFEST_VERSION = 1


def input_kind(plan: Plan) -> str:
    """'pair' when the served model reads two texts, else 'text'."""
    two = len(plan.task.text_columns) == 2
    return "pair" if TASK_RULES[plan.task.type].reads_pairs and two else "text"


class Section(BaseModel):
    """A part of manifest.json: typed, no unknown keys, optional keys left out when unset."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        keep = type(self).KEEP_NONE
        return {k: v for k, v in data.items() if v is not None or k in keep}

    KEEP_NONE: ClassVar[frozenset[str]] = frozenset()
    """Fields written even when None (the app reads them as keys)."""


class TaskOptions(Section):
    """What the app needs to turn outputs into answers."""

    threshold: float | None = None
    """multilabel: probability above which a label is answered."""
    normalize: bool | None = None
    """embedding: whether vectors are L2-normalised."""
    pooling: str | None = None
    """embedding: how token vectors become one vector."""


class ManifestTask(Section):
    KEEP_NONE: ClassVar[frozenset[str]] = frozenset({"label_column"})

    type: str
    output: str
    """How the app decodes outputs (the task table's output kind)."""
    labels: list[str]
    max_length: int
    text_columns: list[str]
    label_column: str | None
    metric: str
    metric_direction: str
    head: str
    options: TaskOptions


class ManifestInputs(Section):
    kind: Literal["text", "pair"]
    max_batch_size: int
    max_text_chars: int
    max_body_bytes: int
    batch_wait_ms: float
    truncation: str


class ManifestTokenizer(Section):
    file: str
    pad_id: int


class ManifestBackbone(Section):
    name: str
    architecture: str
    parameters: int


class ServedModel(Section):
    """The one graph the server runs, and why that one."""

    served: str
    precision: Literal["fp32", "int8"]
    reason: str
    quantization_setting: str | None = None
    recipe: str | None = None
    quantization: dict[str, Any] | None = None
    """The quantization recipe's settings, as the quantizer reports them."""
    quantization_excluded_nodes: list[str] | None = None
    optimized: dict[str, Any] | None = None
    """The pre-optimized graph's record (file of its weights, onnxruntime version, parity)."""
    bytes: int | None = None


class OnnxExport(Section):
    """How the fp32 graph was exported and checked against PyTorch."""

    inputs: list[str]
    output: str
    opset: int
    parity_max_abs_diff_vs_pytorch: float
    attention_fusion: dict[str, Any]
    fp32: str | None = None
    """The fp32 graph, when `deploy.formats` ships it beside the served one."""


class Manifest(Section):
    """manifest.json: what the app serves, with which limits, measured how, built from what."""

    manifest_version: int = MANIFEST_VERSION
    name: str
    description: str
    task: ManifestTask
    inputs: ManifestInputs
    tokenizer: ManifestTokenizer
    model: ServedModel
    backbone: ManifestBackbone
    strategy: str
    etbuilder_version: str
    spec_hash: str
    created_from: str
    created_at: str
    run_metrics: dict[str, float | int | str] = Field(default_factory=dict)
    onnx: OnnxExport | None = None
    quality: dict[str, Any] | None = None
    """The quality gate's worst check and every recipe it tried (package.gate records)."""
    quality_note: str | None = None
    build_seconds: dict[str, Any] | None = None

    def write(self, path: Path) -> None:
        """Write as JSON (2-space indent, UTF-8)."""
        text = json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")

    def as_dict(self) -> dict[str, Any]:
        """The JSON the app reads, as a dict."""
        return self.model_dump(mode="json")


def base_manifest(plan: Plan, run_dir: Path, pad_id: int) -> Manifest:
    """Everything known before the model is measured; `model`/`quality` are filled in later."""
    server = plan.deploy.server
    task = plan.task
    rule = TASK_RULES[task.type]
    options = TaskOptions(threshold=task.threshold)
    if rule.output == "vector":
        options = TaskOptions(normalize=task.normalize is not False, pooling=task.pooling)
    return Manifest(
        name=plan.spec.name,
        description=plan.spec.description,
        task=ManifestTask(
            type=task.type,
            output=rule.output,
            labels=list(task.labels),
            max_length=task.max_length,
            text_columns=list(task.text_columns),
            label_column=task.label_column,
            metric=task.metric,
            metric_direction=task.metric_direction,
            head=task.head,
            options=options,
        ),
        inputs=ManifestInputs(
            kind="pair" if input_kind(plan) == "pair" else "text",
            max_batch_size=server.max_batch_size,
            max_text_chars=server.max_text_chars,
            max_body_bytes=server.max_body_bytes,
            batch_wait_ms=server.batch_wait_ms,
            truncation=f"texts longer than {task.max_length} tokens are truncated",
        ),
        tokenizer=ManifestTokenizer(file="tokenizer.json", pad_id=pad_id),
        model=ServedModel(served="onnx/model.onnx", precision="fp32", reason="not measured yet"),
        backbone=ManifestBackbone(
            name=plan.backbone.name,
            architecture=plan.backbone.architecture,
            parameters=plan.backbone.parameters,
        ),
        strategy=plan.strategy.type,
        etbuilder_version=__version__,
        spec_hash=plan.spec_hash,
        created_from=str(run_dir.resolve()),
        created_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
