"""What the weight files hold, read from their headers only (never the tensors, never torch).

A safetensors file starts with an 8-byte little-endian length and a JSON header listing every
tensor's name, dtype and shape. A sharded checkpoint lists its shards in
`model.safetensors.index.json`. For `pytorch_model.bin` (a zip holding a pickle) the tensor
names are found as strings in the pickle bytes, without unpickling.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MLM_HEAD_PREFIXES = (
    "cls.predictions.",
    "lm_head.",
    "lm_predictions.",
    "vocab_projector.",
    "vocab_transform.",
    "generator_lm_head.",
    "generator_predictions.",
    "predictions.",
)
"""Tensor-name prefixes of a masked-LM head (BERT, RoBERTa, DeBERTa, DistilBERT, ELECTRA...)."""

BUFFER_SUFFIXES = ("position_ids", "token_type_ids")
"""Non-trainable buffers some checkpoints save; not parameters."""

_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class WeightsSummary:
    """Tensor names (and shapes where known) of a checkpoint."""

    files: tuple[str, ...]
    shapes: Mapping[str, tuple[int, ...] | None]
    """Tensor name -> shape (None when only the name is known: pytorch_model.bin)."""

    @property
    def has_mlm_head(self) -> bool:
        return any(name.startswith(MLM_HEAD_PREFIXES) for name in self.shapes)

    def encoder_parameters(self, model_type: str) -> int | None:
        """Parameters of the bare encoder: tensors under the base-model prefix (e.g. `bert.`),
        or the tensors outside any head when the checkpoint has no prefix; None without shapes."""
        if any(shape is None for shape in self.shapes.values()):
            return None
        prefixes = {f"{model_type.replace('-', '_')}.", f"{model_type.split('-')[0]}.", "model."}
        names = [n for n in self.shapes if not n.endswith(BUFFER_SUFFIXES)]
        prefixed = [n for n in names if any(n.startswith(p) for p in prefixes)]
        chosen = prefixed or [n for n in names if not _is_head(n)]
        return sum(math.prod(self.shapes[n] or ()) for n in chosen)


def _is_head(name: str) -> bool:
    heads = (*MLM_HEAD_PREFIXES, "classifier.", "pre_classifier.", "qa_outputs.", "score.")
    return name.startswith(heads) or name.startswith("discriminator_predictions.")


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of one .safetensors file (ValueError when it is not one)."""
    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path} is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length <= 0 or length > _MAX_HEADER:
            raise ValueError(f"{path} has an implausible safetensors header length {length}")
        header = json.loads(fh.read(length))
    if not isinstance(header, dict):
        raise ValueError(f"{path} has a malformed safetensors header")
    return header


def _safetensors_shapes(files: list[Path]) -> dict[str, tuple[int, ...] | None]:
    shapes: dict[str, tuple[int, ...] | None] = {}
    for file in files:
        for name, info in read_safetensors_header(file).items():
            if name == "__metadata__" or not isinstance(info, dict):
                continue
            if str(info.get("dtype", "")).startswith(("I", "U", "BOOL")):
                continue  # integer buffers (position_ids), not parameters
            shapes[name] = tuple(int(d) for d in info.get("shape", []))
    return shapes


_TENSOR_NAME = re.compile(r"[A-Za-z_][\w.]*\.(?:weight|bias)")
_STRING_OPCODES = {0x8C: 1, 0x58: 4}
"""Pickle opcodes of a unicode string and the byte size of its length: SHORT_BINUNICODE
(protocol 4) and BINUNICODE (protocol 2, what torch.save uses)."""


def _pickle_strings(data: bytes) -> list[str]:
    found = []
    for i, op in enumerate(data):
        size = _STRING_OPCODES.get(op)
        if size is None or i + 1 + size > len(data):
            continue
        length = int.from_bytes(data[i + 1 : i + 1 + size], "little")
        if not 0 < length <= 300:
            continue
        raw = data[i + 1 + size : i + 1 + size + length]
        try:
            found.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return found


def _bin_names(path: Path) -> dict[str, tuple[int, ...] | None]:
    """Tensor names in a torch zip checkpoint, read from its pickle's strings (not unpickled)."""
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if n.endswith("data.pkl")]
        if not pickles:
            return {}
        data = zf.read(pickles[0])
    return {s: None for s in _pickle_strings(data) if _TENSOR_NAME.fullmatch(s)}


def summarize_weights(folder: Path) -> WeightsSummary | None:
    """The weights in `folder` (safetensors, sharded or not, else pytorch_model.bin); None if
    there are none or they cannot be read."""
    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    try:
        if single.is_file():
            return WeightsSummary((single.name,), _safetensors_shapes([single]))
        if index.is_file():
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
            shards = sorted(set(weight_map.values()))
            files = [folder / s for s in shards]
            if all(f.is_file() for f in files):
                return WeightsSummary(tuple(shards), _safetensors_shapes(files))
            return WeightsSummary(tuple(shards), dict.fromkeys(weight_map))
        binary = folder / "pytorch_model.bin"
        if binary.is_file() and zipfile.is_zipfile(binary):
            return WeightsSummary((binary.name,), _bin_names(binary))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return None
