"""Finding a backbone's folder: zoo package, local folder, Hugging Face cache, or the hub.

Every function returns a folder holding config.json, or None (and says nothing about why:
`resolve.py` collects what was tried into one BackboneError).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from etbuilder.zoo.registry import ZooEntry

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spm.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "added_tokens.json",
)
"""Files a tokenizer may need; online resolution fetches those that exist."""


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, from the environment as huggingface_hub reads it."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def package_folder(entry: ZooEntry) -> Path | None:
    """The folder a zoo package ships (imported lazily), or None when not installed."""
    if entry.module is None:
        return None
    try:
        module = importlib.import_module(entry.module)
        folder = Path(module.get_model_path())
    except (ImportError, AttributeError, OSError):
        return None
    return folder if (folder / "config.json").is_file() else None


def local_folder(name: str, base_dir: Path | None = None) -> Path | None:
    """`name` as a local folder with config.json (relative to `base_dir`, then the cwd)."""
    raw = Path(name).expanduser()
    candidates = [raw] if raw.is_absolute() else [*([base_dir / raw] if base_dir else []), raw]
    for candidate in candidates:
        if (candidate / "config.json").is_file():
            return candidate.resolve()
    return None


def looks_like_path(name: str) -> bool:
    """Whether the user meant a local path rather than a hub id or alias."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).expanduser().exists()


def cached_folder(repo_id: str, revision: str | None = None) -> Path | None:
    """The snapshot folder of `repo_id` in the local HF cache (no network), or None."""
    cache = hf_cache_dir()
    if not cache.is_dir():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(
            repo_id, "config.json", cache_dir=str(cache), revision=revision
        )
    except Exception:  # a malformed cache or id: fall back to scanning
        hit = None
    if isinstance(hit, str):
        return Path(hit).parent
    return _scan_snapshots(cache, repo_id, revision)


def _scan_snapshots(cache: Path, repo_id: str, revision: str | None) -> Path | None:
    """Snapshots with config.json; `revision` matches a commit prefix or a ref; else newest."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    if revision is not None:
        ref = repo / "refs" / revision
        commit = ref.read_text().strip() if ref.is_file() else revision
        found = [s for s in snapshots.iterdir() if s.name.startswith(commit)]
    else:
        found = list(snapshots.iterdir())
    found = [s for s in found if (s / "config.json").is_file()]
    if not found:
        return None
    return max(found, key=lambda s: ((s / "config.json").stat().st_mtime, s.name))


def download(repo_id: str, revision: str | None = None) -> Path:
    """Download config.json and the tokenizer files of `repo_id` (never the weights).

    Raises whatever huggingface_hub raises; the caller turns it into a BackboneError.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    config = Path(hf_hub_download(repo_id, "config.json", revision=revision))
    for filename in TOKENIZER_FILES:
        try:
            hf_hub_download(repo_id, filename, revision=revision)
        except EntryNotFoundError:
            continue
    return config.parent


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
"""Weight files in order of preference (an index names its shards)."""


def has_weights(folder: Path) -> bool:
    """Whether `folder` holds weights transformers can load."""
    return any((folder / name).is_file() for name in WEIGHT_FILES)


def repo_of_snapshot(folder: Path) -> tuple[str, str] | None:
    """(repo id, commit) of an HF cache snapshot folder `.../models--org--name/snapshots/<sha>`."""
    if folder.parent.name != "snapshots" or not folder.parent.parent.name.startswith("models--"):
        return None
    repo_id = folder.parent.parent.name[len("models--") :].replace("--", "/")
    return repo_id, folder.name


def download_weights(repo_id: str, revision: str) -> None:
    """Download the weights of `repo_id` at `revision` into the HF cache (safetensors first)."""
    import json

    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    for name in WEIGHT_FILES:
        try:
            path = hf_hub_download(repo_id, name, revision=revision)
        except EntryNotFoundError:
            continue
        if name.endswith(".index.json"):
            shards = set(json.loads(Path(path).read_text())["weight_map"].values())
            for shard in sorted(shards):
                hf_hub_download(repo_id, shard, revision=revision)
        return
    raise FileNotFoundError(f"{repo_id} has none of {', '.join(WEIGHT_FILES)}")
