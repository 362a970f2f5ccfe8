"""One model per task, built on the Hugging Face heads so the saved folder loads with transformers.

classification / pair_classification / multilabel / regression: AutoModelForSequenceClassification
(problem_type set, id2label/label2id from the plan); ner: AutoModelForTokenClassification;
embedding: AutoModel wrapped in `SentenceEncoder` (mean/cls/max pooling, optional L2 norm), saved
as the bare encoder plus a sentence-transformers pooling config.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from etbuilder.errors import BackboneError, RunError
from etbuilder.plan import Plan
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.runtime.mlp_head import rebuild_head


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report and progress bars (the runtime reports what matters)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink):
            yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


class SentenceEncoder(nn.Module):
    """An encoder plus pooling: token vectors -> one vector per text."""

    def __init__(self, encoder: nn.Module, pooling: str, normalize: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.normalize = normalize
        self.config = getattr(encoder, "config", None)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        vectors = pool(hidden, attention_mask, self.pooling)
        if self.normalize:
            vectors = nn.functional.normalize(vectors.float(), dim=-1)
        return vectors

    def get_input_embeddings(self) -> nn.Module:
        module: nn.Module = self.encoder.get_input_embeddings()  # type: ignore[operator]
        return module


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool token vectors (batch x tokens x hidden) over the real tokens."""
    if how == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if how == "max":
        return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def _label_maps(plan: Plan) -> dict[str, Any]:
    labels = plan.task.labels
    if TASK_RULES[plan.task.type].numeric:
        return {"num_labels": 1}
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {name: i for i, name in enumerate(labels)},
    }


def attention_for(device: str) -> str:
    """The attention kernel to train with. On a CPU, `eager` (matmul, softmax, dropout): with
    dropout in training, SDPA falls back to the same math plus mask conversions, and a full
    minilm-l6 step measured 6-9% faster with eager. On a GPU, SDPA's fused kernels."""
    return "eager" if device == "cpu" else "sdpa"


def build_model(plan: Plan) -> tuple[nn.Module, list[str]]:
    """The task model with pretrained backbone weights; returns it and the newly initialised
    weight names (the head, and a pooler the checkpoint lacked)."""
    from transformers import (
        AutoModel,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )

    path = plan.backbone.path
    task = plan.task
    rule = TASK_RULES[task.type]
    # fp32 master weights whatever the checkpoint's dtype: transformers 5 loads a bf16/fp16
    # checkpoint as a half-precision model, whose AdamW updates would round away.
    common: dict[str, Any] = {
        "attn_implementation": attention_for(
            "cpu" if plan.hardware.device == "cpu" or not torch.cuda.is_available() else "cuda"
        ),
        "output_loading_info": True,
        "dtype": torch.float32,
    }
    try:
        with quiet_transformers():
            if rule.model == "sequence":
                if task.pooling not in ("cls", "none"):
                    raise RunError(
                        f"backbone.pooling: {task.pooling} is not available for {task.type}: "
                        "its Hugging Face head reads the first ([CLS]) token; use pooling: auto"
                    )
                model, info = AutoModelForSequenceClassification.from_pretrained(
                    path, problem_type=rule.problem_type, **_label_maps(plan), **common
                )
            elif rule.model == "token":
                model, info = AutoModelForTokenClassification.from_pretrained(
                    path, **_label_maps(plan), **common
                )
            else:
                encoder, info = AutoModel.from_pretrained(path, **common)
                normalize = task.normalize is not False
                pooling = task.pooling if task.pooling != "none" else "mean"
                model = SentenceEncoder(encoder, pooling, normalize)
    except (OSError, ValueError) as error:
        raise BackboneError(f"cannot load the backbone from {path}: {error}") from None
    return model, sorted(info.get("missing_keys", []))


def trainable_model(model: nn.Module) -> nn.Module:
    """The module whose weights are saved (the encoder of a SentenceEncoder)."""
    return model.encoder if isinstance(model, SentenceEncoder) else model


def save_model(model: nn.Module, plan: Plan, folder: Path, tokenizer: Any) -> None:
    """Save in Hugging Face format: safetensors, config (with id2label), tokenizer files."""
    folder.mkdir(parents=True, exist_ok=True)
    inner = trainable_model(model)
    with quiet_transformers():
        inner.save_pretrained(str(folder), safe_serialization=True)  # type: ignore[operator]
        tokenizer.save_pretrained(str(folder))
    if isinstance(model, SentenceEncoder):
        _write_sentence_transformers_config(folder, model, inner)


def _write_sentence_transformers_config(folder: Path, model: SentenceEncoder, inner: Any) -> None:
    hidden = int(getattr(inner.config, "hidden_size", 0))
    pooling = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": model.pooling == "cls",
        "pooling_mode_mean_tokens": model.pooling == "mean",
        "pooling_mode_max_tokens": model.pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2) + "\n")
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    if model.normalize:
        modules.append(
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            }
        )
        (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")


def load_saved(folder: Path, task_type: str) -> nn.Module:
    """The transformers model `save_model` wrote in `folder`, as etbuilder trained it: the task
    model (the bare encoder for an embedding task) with a features run's MLP head and pooling
    restored (`mlp_head.rebuild_head`). `load_trained` and the packager's export load it so."""
    from transformers import (
        AutoModel,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )

    model_kind = TASK_RULES[task_type].model
    with quiet_transformers():
        if model_kind == "sequence":
            model = AutoModelForSequenceClassification.from_pretrained(
                str(folder), attn_implementation="sdpa"
            )
        elif model_kind == "token":
            model = AutoModelForTokenClassification.from_pretrained(
                str(folder), attn_implementation="sdpa"
            )
        else:
            model = AutoModel.from_pretrained(str(folder), attn_implementation="sdpa")
    return rebuild_head(model, folder)


def load_trained(plan: Plan, folder: Path) -> nn.Module:
    """A model saved by `save_model`, for evaluate/predict."""
    model = load_saved(folder, plan.task.type)
    if TASK_RULES[plan.task.type].model != "encoder":
        return model
    pooling = plan.task.pooling if plan.task.pooling != "none" else "mean"
    return SentenceEncoder(model, pooling, plan.task.normalize is not False)
