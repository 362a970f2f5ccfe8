"""Export a run's Hugging Face model to ONNX (fp32) and check it against PyTorch.

torch and transformers are imported here only (packaging runs where training ran). The
export uses torch's dynamo-based exporter (`torch.onnx.export(..., dynamo=True)`): the
TorchScript exporter mis-traces transformers 5 attention masks (differences of ~1e-2), the
dynamo one matches PyTorch to ~1e-7.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from etbuilder.errors import PackageError
from etbuilder.plan.tasks import TASK_RULES

PARITY_TOLERANCE = 1e-4
"""Largest difference allowed between ONNX fp32 and PyTorch outputs: absolute for outputs up to
1 in size, relative to the largest output beyond (fp32 rounding grows with the magnitude: a
linear head solved with a weak L2 penalty gives logits in the tens)."""


def parity_allowed(expected: np.ndarray) -> float:
    """The difference allowed for outputs `expected` (see PARITY_TOLERANCE)."""
    largest = float(np.max(np.abs(expected))) if expected.size else 0.0
    return PARITY_TOLERANCE * max(1.0, largest)


PARITY_TEXTS = (
    "Short one.",
    "A somewhat longer sentence, with punctuation, numbers like 42 and a few more words.",
    "ok",
    "Third example: café, naïve, résumé and 😀 unusual characters!",
)
"""Texts of different lengths checked at build time (padding and masking included)."""


@dataclass(frozen=True)
class ExportResult:
    """What the export wrote and how close it is to PyTorch."""

    path: Path
    input_names: list[str]
    output_name: str
    parity_max_abs_diff: float
    opset: int


def load_torch_model(model_dir: Path, task: str, pooling: str, normalize: bool) -> Any:
    """The task model as one `torch.nn.Module` taking (input_ids, attention_mask[, type ids])."""
    import torch

    from etbuilder.runtime.models import load_saved

    model = load_saved(model_dir, task).eval()  # a features run's MLP head and pooling too
    kind = TASK_RULES[task].model
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters

    class TaskModel(torch.nn.Module):
        """Returns logits, or pooled (and L2-normalised) sentence vectors for embeddings."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.is_embedding = kind == "encoder"
            self.input_names = ["input_ids", "attention_mask"] + (
                ["token_type_ids"] if takes_types else []
            )

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(self.input_names, tensors, strict=True))
            out = self.model(**kwargs)
            if kind != "encoder":
                return out.logits
            hidden = out.last_hidden_state
            mask = kwargs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            if pooling == "cls":
                vectors = hidden[:, 0]
            elif pooling == "max":
                vectors = (hidden - (1.0 - mask) * 1e9).max(dim=1).values
            else:
                vectors = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            if normalize:
                vectors = torch.nn.functional.normalize(vectors, p=2.0, dim=-1)
            return vectors

    return TaskModel().eval()


def sample_inputs(
    tokenizer_file: Path,
    pair: bool,
    names: list[str],
    max_length: int,
    texts: Sequence[str] = PARITY_TEXTS,
) -> dict:
    """Padded numpy inputs for `texts` (made into pairs for pair tasks)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    tok.enable_truncation(max_length)
    tok.enable_padding(pad_id=tok.padding["pad_id"] if tok.padding else 0)
    batch: list[Any] = list(texts)
    if pair:
        batch = [(a, b) for a, b in zip(batch, batch[1:] + batch[:1], strict=True)]
    encs = tok.encode_batch(batch)
    arrays = {
        "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
    }
    return {n: arrays[n] for n in names}


def export_onnx(
    model: Any, out_path: Path, tokenizer_file: Path, pair: bool, max_length: int
) -> ExportResult:
    """Export `model` (from `load_torch_model`) with dynamic batch and sequence axes.

    Raises PackageError when the ONNX outputs differ from PyTorch by more than 1e-4.
    """
    import torch

    names: list[str] = list(model.input_names)
    feeds = sample_inputs(tokenizer_file, pair, names, max_length)
    args = tuple(torch.from_numpy(feeds[n]) for n in names)
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=1, max=max(max_length, 8))
    output_name = "embeddings" if getattr(model, "is_embedding", False) else "logits"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet():
        program = torch.onnx.export(
            model,
            args,
            str(out_path),
            dynamo=True,
            input_names=names,
            output_names=[output_name],
            dynamic_shapes=(({0: batch, 1: seq},) * len(names),),
            external_data=False,
            optimize=True,
            verbose=False,
        )
    opset = _opset(program)
    with torch.no_grad():
        expected = model(*args).numpy()
    diff = parity(out_path, feeds, expected)
    allowed = parity_allowed(expected)
    if not diff <= allowed:
        raise PackageError(
            f"the ONNX export of {out_path.name} differs from PyTorch by {diff:.2e} "
            f"(allowed {allowed:.1e}: {PARITY_TOLERANCE:.0e} x the largest output, at least 1); "
            "the app was not built",
            hint="this model's architecture may not export cleanly; set `deploy.formats: [torch]`"
            " and serve it with transformers, or report the model type",
        )
    return ExportResult(out_path, names, output_name, diff, opset)


def parity(onnx_path: Path, feeds: dict, expected: np.ndarray) -> float:
    """Largest absolute difference between the ONNX model's output and `expected`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, feeds)[0]
    if got.shape != expected.shape:
        return float("inf")
    return float(np.abs(got.astype(np.float64) - expected.astype(np.float64)).max())


def _opset(program: Any) -> int:
    try:
        return int(program.model.opset_imports[""])
    except Exception:  # the default opset of this torch when the program hides it
        return 18


class _quiet:
    """Silence the exporter's progress prints and warnings (they are not the user's concern)."""

    def __enter__(self) -> None:
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        self._levels = {}
        for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript"):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: Any) -> None:
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._warnings.__exit__(*exc)
