"""One table of what etbuilder knows about each encoder family, read from config.json alone.

`ARCHITECTURES` maps a config's `model_type` to its module naming (layer prefix, default LoRA
targets, per-layer linear shapes, pooler) and its exact parameter formula. The zoo reads it to
size a backbone, the compiler to lower strategies and estimate cost, the runtime to name modules.
No torch, no transformers modeling code.

`encoder_parameters` is exact for the bare encoder (the `AutoModel` class: BertModel with its
pooler, RobertaModel, DistilBertModel, ...) of the families in the table; other model types get
the BERT formula as an estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from etbuilder.plan import BackboneInfo

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


@dataclass(frozen=True)
class Architecture:
    """Module naming and parameter formula of one `model_type` family."""

    layer_prefix: str
    """Prefix of the per-layer modules: `encoder.layer` -> `encoder.layer.0`, ..."""
    lora_targets: tuple[str, ...]
    """Default LoRA targets: the attention query and value projections."""
    linear_shapes: dict[str, tuple[tuple[str, str], ...]]
    """Per layer, each linear module name -> its (in, out) sizes, `h` hidden, `i` intermediate.
    A name matching several modules (bert's `dense`) lists every shape."""
    parameters: Callable[[Config], int]
    """Exact parameter count of the bare encoder from its config.json."""
    pooler: bool = False
    """Whether the bare encoder has a pooler (dense h->h on the first token)."""


_BERT_SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "query": (("h", "h"),),
    "key": (("h", "h"),),
    "value": (("h", "h"),),
    "dense": (("h", "h"), ("h", "i"), ("i", "h")),
}

_DISTILBERT_SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "q_lin": (("h", "h"),),
    "k_lin": (("h", "h"),),
    "v_lin": (("h", "h"),),
    "out_lin": (("h", "h"),),
    "lin1": (("h", "i"),),
    "lin2": (("i", "h"),),
}
_DEBERTA_SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "query_proj": (("h", "h"),),
    "key_proj": (("h", "h"),),
    "value_proj": (("h", "h"),),
    "dense": (("h", "h"), ("h", "i"), ("i", "h")),
}
_MPNET_SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "q": (("h", "h"),),
    "k": (("h", "h"),),
    "v": (("h", "h"),),
    "o": (("h", "h"),),
    "dense": (("h", "i"), ("i", "h")),
}
_QV = ("query", "value")

ARCHITECTURES: MappingProxyType[str, Architecture] = MappingProxyType(
    {
        "bert": Architecture("encoder.layer", _QV, _BERT_SHAPES, _bert, pooler=True),
        "roberta": Architecture("encoder.layer", _QV, _BERT_SHAPES, _bert, pooler=True),
        "xlm-roberta": Architecture("encoder.layer", _QV, _BERT_SHAPES, _bert, pooler=True),
        "camembert": Architecture("encoder.layer", _QV, _BERT_SHAPES, _bert, pooler=True),
        "electra": Architecture("encoder.layer", _QV, _BERT_SHAPES, _electra),
        "distilbert": Architecture(
            "transformer.layer", ("q_lin", "v_lin"), _DISTILBERT_SHAPES, _distilbert
        ),
        "deberta-v2": Architecture(
            "encoder.layer", ("query_proj", "value_proj"), _DEBERTA_SHAPES, _deberta_v2
        ),
        "mpnet": Architecture("encoder.layer", ("q", "v"), _MPNET_SHAPES, _mpnet, pooler=True),
        "albert": Architecture(
            "encoder.albert_layer_groups", _QV, _BERT_SHAPES, _albert, pooler=True
        ),
    }
)
"""model_type -> what etbuilder knows about it. A model_type missing here still compiles (its
size is estimated with the BERT formula); LoRA then needs explicit `strategy.targets`."""

_GENERIC = Architecture("encoder.layer", (), _BERT_SHAPES, _bert)


def architecture(backbone: BackboneInfo) -> Architecture:
    """The naming table of the backbone's model_type (a BERT-like default when unknown)."""
    return ARCHITECTURES.get(backbone.model_type, _GENERIC)


def layer_parameters(backbone: BackboneInfo) -> int:
    """Parameters of one transformer layer: Q, K, V, O projections, feed-forward, 2 LayerNorms."""
    h, i = backbone.hidden_size, backbone.intermediate_size
    attention = 4 * (h * h + h)
    feed_forward = (h * i + i) + (i * h + h)
    layer_norms = 2 * (2 * h)
    return attention + feed_forward + layer_norms


def pooler_parameters(backbone: BackboneInfo) -> int:
    """Parameters of the pooler (dense h -> h) when the architecture has one."""
    h = backbone.hidden_size
    return h * h + h if architecture(backbone).pooler else 0


def embedding_parameters(backbone: BackboneInfo) -> int:
    """The rest of the encoder: token, position and type embeddings and their LayerNorm."""
    rest = (
        backbone.parameters
        - backbone.layers * layer_parameters(backbone)
        - pooler_parameters(backbone)
    )
    if rest > 0:
        return rest
    h = backbone.hidden_size
    return (backbone.vocab_size + backbone.max_positions) * h + 2 * h


def forward_flops_per_token(backbone: BackboneInfo, length: int) -> float:
    """One layer's forward FLOPs per token: 2 x its parameters + attention scores and mix."""
    return 2 * layer_parameters(backbone) + 4 * length * backbone.hidden_size


def mlm_head_parameters(backbone: BackboneInfo) -> int:
    """A BERT masked-LM head: transform dense + LayerNorm + output bias (decoder tied)."""
    h = backbone.hidden_size
    return h * h + h + 2 * h + backbone.vocab_size


def module_shapes(backbone: BackboneInfo, name: str) -> tuple[tuple[int, int], ...] | None:
    """The (in, out) sizes of every per-layer linear module called `name`, or None if unknown."""
    shapes = architecture(backbone).linear_shapes.get(name)
    if shapes is None:
        return None
    size = {"h": backbone.hidden_size, "i": backbone.intermediate_size}
    return tuple((size[a], size[b]) for a, b in shapes)


def encoder_parameters(config: Config) -> tuple[int, bool]:
    """(parameter count of the bare encoder, whether the formula is exact for this model type)."""
    known = ARCHITECTURES.get(str(config.get("model_type")))
    if known is not None:
        return known.parameters(config), True
    return _bert(config), False
