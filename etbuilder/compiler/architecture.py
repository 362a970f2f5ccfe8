"""Per-architecture facts the compiler needs without loading weights: module names and shapes.

Parameter counts are computed from the backbone's config (BackboneInfo), layer by layer, the
way transformers builds a BERT-style encoder: attention projections, feed-forward, two
LayerNorms per layer; embeddings are what remains of the total.
"""

from __future__ import annotations

from dataclasses import dataclass

from etbuilder.plan import BackboneInfo


@dataclass(frozen=True)
class Architecture:
    """Module naming of one `model_type` family."""

    layer_prefix: str
    """Prefix of the per-layer modules: `encoder.layer` -> `encoder.layer.0`, ..."""
    lora_targets: tuple[str, ...]
    """Default LoRA targets: the attention query and value projections."""
    linear_shapes: dict[str, tuple[tuple[str, str], ...]]
    """Per layer, each linear module name -> its (in, out) sizes, `h` hidden, `i` intermediate.
    A name matching several modules (bert's `dense`) lists every shape."""
    pooler: bool = False
    """Whether the bare encoder has a pooler (dense h->h on the first token)."""


_BERT_SHAPES: dict[str, tuple[tuple[str, str], ...]] = {
    "query": (("h", "h"),),
    "key": (("h", "h"),),
    "value": (("h", "h"),),
    "dense": (("h", "h"), ("h", "i"), ("i", "h")),
}

ARCHITECTURES: dict[str, Architecture] = {
    "bert": Architecture("encoder.layer", ("query", "value"), _BERT_SHAPES, pooler=True),
    "roberta": Architecture("encoder.layer", ("query", "value"), _BERT_SHAPES, pooler=True),
    "xlm-roberta": Architecture("encoder.layer", ("query", "value"), _BERT_SHAPES, pooler=True),
    "camembert": Architecture("encoder.layer", ("query", "value"), _BERT_SHAPES, pooler=True),
    "electra": Architecture("encoder.layer", ("query", "value"), _BERT_SHAPES),
    "distilbert": Architecture(
        "transformer.layer",
        ("q_lin", "v_lin"),
        {
            "q_lin": (("h", "h"),),
            "k_lin": (("h", "h"),),
            "v_lin": (("h", "h"),),
            "out_lin": (("h", "h"),),
            "lin1": (("h", "i"),),
            "lin2": (("i", "h"),),
        },
    ),
    "deberta-v2": Architecture(
        "encoder.layer",
        ("query_proj", "value_proj"),
        {
            "query_proj": (("h", "h"),),
            "key_proj": (("h", "h"),),
            "value_proj": (("h", "h"),),
            "dense": (("h", "h"), ("h", "i"), ("i", "h")),
        },
    ),
    "mpnet": Architecture(
        "encoder.layer",
        ("q", "v"),
        {
            "q": (("h", "h"),),
            "k": (("h", "h"),),
            "v": (("h", "h"),),
            "o": (("h", "h"),),
            "dense": (("h", "i"), ("i", "h")),
        },
        pooler=True,
    ),
}
"""model_type -> its module naming. A model_type missing here still compiles; LoRA then needs
explicit `strategy.targets`."""

_GENERIC = Architecture("encoder.layer", (), _BERT_SHAPES)


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
