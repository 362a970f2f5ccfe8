"""`ensure_weights`: the runtime's way to a folder that holds the backbone's weights.

`resolve_backbone` never downloads weights (the compiler reads headers only). A backbone found
online (or a cache snapshot that holds only config and tokenizer) gets its weights here, into
the Hugging Face cache, at the exact commit the plan recorded.
"""

from __future__ import annotations

from pathlib import Path

from etbuilder.errors import BackboneError
from etbuilder.plan import BackboneInfo
from etbuilder.zoo.locate import WEIGHT_FILES, download_weights, has_weights, repo_of_snapshot


def ensure_weights(info: BackboneInfo, *, allow_online: bool = False) -> Path:
    """`info.path` once it holds weights; downloads them for a hub model when allowed."""
    folder = Path(info.path)
    if has_weights(folder):
        return folder
    origin = repo_of_snapshot(folder)
    if origin is None or info.source not in ("hf-cache", "hf-online"):
        raise BackboneError(
            f"backbone {info.name!r}: {folder} has no weights ({', '.join(WEIGHT_FILES)})\n"
            "    hint: put the model's weights in that folder"
        )
    repo_id, commit = origin
    if not allow_online:
        raise BackboneError(
            f"backbone {info.name!r}: the local copy of {repo_id} ({folder}) has no weights "
            "and downloading is disabled\n"
            "    hint: set `backbone.allow_online: true`, or download the model into the cache"
        )
    try:
        download_weights(repo_id, commit)
    except Exception as exc:  # network, auth, missing files: reported to the user
        raise BackboneError(
            f"backbone {info.name!r}: downloading the weights of {repo_id} failed: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        ) from None
    if not has_weights(folder):
        raise BackboneError(f"backbone {info.name!r}: no weights in {folder} after download")
    return folder
