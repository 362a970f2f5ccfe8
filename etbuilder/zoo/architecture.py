"""Encoder shape and parameter count from config.json alone (no torch, no transformers modeling).

`encoder_parameters` is exact for the bare encoder (the `AutoModel` class: BertModel with its
pooler, RobertaModel, DistilBertModel, ...) of the families in `PARAMETER_FORMULAS`; other model
types get the BERT formula as an estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Config = Mapping[str, Any]

_KEYS: dict[str, tuple[str, ...]] = {
    "layers": ("num_hidden_layers", "n_layers", "num_layers", "n_layer"),
    "hidden": ("hidden_size", "dim", "d_model", "n_embd"),
    "heads": ("num_attention_heads", "n_heads", "num_heads", "n_head"),
    "intermediate": ("intermediate_size", "hidden_dim", "ffn_dim", "n_inner"),
    "vocab": ("vocab_size",),
    "positions": ("max_position_embeddings", "n_positions", "max_seq_len"),
}


@dataclass(frozen=True)
class EncoderShape:
    """The sizes the compiler needs, read from config.json."""

    model_type: str
    architecture: str
    layers: int
    hidden: int
    heads: int
    intermediate: int
    vocab: int
    positions: int


def _get(config: Config, what: str, default: int | None = None) -> int:
    for key in _KEYS[what]:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    if default is not None:
        return default
    raise KeyError(f"config.json has none of {', '.join(_KEYS[what])}")


def encoder_shape(config: Config) -> EncoderShape:
    """Shape of the encoder described by a config.json dict (KeyError names a missing key)."""
    hidden = _get(config, "hidden")
    architectures = config.get("architectures") or []
    model_type = str(config.get("model_type") or "unknown")
    return EncoderShape(
        model_type=model_type,
        architecture=str(architectures[0]) if architectures else f"{model_type} (unspecified)",
        layers=_get(config, "layers"),
        hidden=hidden,
        heads=_get(config, "heads"),
        intermediate=_get(config, "intermediate", 4 * hidden),
        vocab=_get(config, "vocab"),
        positions=_get(config, "positions", 512),
    )


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _transformer_layer(hidden: int, intermediate: int) -> int:
    """Self-attention (q, k, v, out) + LayerNorm + feed-forward + LayerNorm: BERT's layer."""
    attention = 4 * _linear(hidden, hidden) + 2 * hidden
    feed_forward = _linear(hidden, intermediate) + _linear(intermediate, hidden) + 2 * hidden
    return attention + feed_forward


def _bert(config: Config, pooler: bool = True) -> int:
    s = encoder_shape(config)
    emb_size = int(config.get("embedding_size") or s.hidden)
    types = int(config.get("type_vocab_size", 2))
    embeddings = (s.vocab + s.positions + types) * emb_size + 2 * emb_size
    if emb_size != s.hidden:  # ELECTRA's embeddings_project
        embeddings += _linear(emb_size, s.hidden)
    total = embeddings + s.layers * _transformer_layer(s.hidden, s.intermediate)
    return total + (_linear(s.hidden, s.hidden) if pooler else 0)


def _electra(config: Config) -> int:
    return _bert(config, pooler=False)


def _distilbert(config: Config) -> int:
    s = encoder_shape(config)
    embeddings = (s.vocab + s.positions) * s.hidden + 2 * s.hidden
    return embeddings + s.layers * _transformer_layer(s.hidden, s.intermediate)


def _mpnet(config: Config) -> int:
    s = encoder_shape(config)
    embeddings = (s.vocab + s.positions) * s.hidden + 2 * s.hidden
    relative_bias = int(config.get("relative_attention_num_buckets", 32)) * s.heads
    layers = s.layers * _transformer_layer(s.hidden, s.intermediate)
    return embeddings + layers + relative_bias + _linear(s.hidden, s.hidden)


def _albert(config: Config) -> int:
    s = encoder_shape(config)
    emb = int(config.get("embedding_size", 128))
    types = int(config.get("type_vocab_size", 2))
    embeddings = (s.vocab + s.positions + types) * emb + 2 * emb
    groups = int(config.get("num_hidden_groups", 1)) * int(config.get("inner_group_num", 1))
    shared = groups * _transformer_layer(s.hidden, s.intermediate)
    return embeddings + _linear(emb, s.hidden) + shared + _linear(s.hidden, s.hidden)


def _deberta_v2(config: Config) -> int:
    s = encoder_shape(config)
    emb = int(config.get("embedding_size") or s.hidden)
    embeddings = s.vocab * emb + 2 * s.hidden
    if config.get("position_biased_input", True):
        embeddings += s.positions * emb
    embeddings += int(config.get("type_vocab_size", 0)) * emb
    if emb != s.hidden:
        embeddings += _linear(emb, s.hidden, bias=False)
    layer = _transformer_layer(s.hidden, s.intermediate)
    pos_att = config.get("pos_att_type") or []
    if isinstance(pos_att, str):
        pos_att = [p.strip() for p in pos_att.lower().split("|")]
    relative = bool(config.get("relative_attention", False))
    if relative and not config.get("share_att_key", False):
        layer += sum(_linear(s.hidden, s.hidden) for kind in ("c2p", "p2c") if kind in pos_att)
    encoder = s.layers * layer
    if relative:
        max_rel = int(config.get("max_relative_positions", -1))
        max_rel = s.positions if max_rel < 1 else max_rel
        buckets = int(config.get("position_buckets", -1))
        encoder += (buckets * 2 if buckets > 0 else max_rel * 2) * s.hidden
    norm_rel = str(config.get("norm_rel_ebd", "none")).lower().split("|")
    if "layer_norm" in (n.strip() for n in norm_rel):
        encoder += 2 * s.hidden
    kernel = int(config.get("conv_kernel_size", 0))
    if kernel > 0:
        conv_groups = int(config.get("conv_groups", 1))
        encoder += s.hidden * (s.hidden // conv_groups) * kernel + s.hidden + 2 * s.hidden
    return embeddings + encoder


PARAMETER_FORMULAS: MappingProxyType[str, Callable[[Config], int]] = MappingProxyType(
    {
        "bert": _bert,
        "roberta": _bert,
        "xlm-roberta": _bert,
        "camembert": _bert,
        "electra": _electra,
        "distilbert": _distilbert,
        "mpnet": _mpnet,
        "albert": _albert,
        "deberta-v2": _deberta_v2,
    }
)
"""Exact bare-encoder parameter count per `model_type`."""


def encoder_parameters(config: Config) -> tuple[int, bool]:
    """(parameter count of the bare encoder, whether the formula is exact for this model type)."""
    formula = PARAMETER_FORMULAS.get(str(config.get("model_type")))
    if formula is not None:
        return formula(config), True
    return _bert(config), False
