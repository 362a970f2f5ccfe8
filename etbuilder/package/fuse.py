"""Fuse each exported self-attention block into one onnxruntime `MultiHeadAttention` node.

torch's dynamo exporter writes scaled-dot-product attention as about twenty small nodes per
layer (reshapes, transposes, two scaling Muls, the score MatMul, the additive mask built from
`attention_mask` by Range/GatherND/Where, Softmax, a NaN guard, the value MatMul; a model
loaded with `eager` attention scales the scores after their MatMul instead). onnxruntime's
own BERT optimizer (`onnxruntime.transformers.optimizer`) does not recognise this pattern, so
the graph keeps every one of them, and on a CPU at batch 1 their per-node overhead costs about
as much as the arithmetic. This pass recognises the pattern structurally, replaces it by
`com.microsoft.MultiHeadAttention(q, k, v, key_padding_mask)` (a contrib op of every
onnxruntime CPU build) and drops the nodes nothing reads any more. The Q/K/V projections stay
separate MatMuls, so int8 quantization still handles them per channel.

The pass is all-or-nothing: when any attention block does not match, the graph is left as it
is. The caller checks the fused graph against PyTorch (1e-4) and keeps the unfused one
otherwise, so a model whose attention is not plain padding-masked attention is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PASS_THROUGH = frozenset({"Reshape", "Transpose", "Mul", "Div", "Squeeze", "Unsqueeze"})
"""Shape-only (or scaling) nodes between a Q/K/V projection and the attention product."""


@dataclass(frozen=True)
class FuseResult:
    """How many attention blocks were fused, and into what."""

    fused: int
    nodes_before: int
    nodes_after: int


def _producers(graph: Any) -> dict[str, Any]:
    return {out: node for node in graph.node for out in node.output}


def _constant(graph: Any, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return np.asarray(numpy_helper.to_array(init))
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            for attr in node.attribute:
                if attr.name == "value":
                    return np.asarray(numpy_helper.to_array(attr.t))
    return None


def _projection(graph: Any, producer: dict[str, Any], name: str) -> tuple[str, float] | None:
    """Walk back from an attention operand to the [B, S, H] projection output (an Add of a
    bias to a MatMul); returns it and the product of scaling constants met on the way."""
    scale = 1.0
    for _ in range(8):
        node = producer.get(name)
        if node is None:
            return None
        if node.op_type == "Add" and any(
            (p := producer.get(i)) is not None and p.op_type == "MatMul" for i in node.input
        ):
            return name, scale
        if node.op_type not in PASS_THROUGH:
            return None
        if node.op_type in ("Mul", "Div"):
            consts = [_constant(graph, i) for i in node.input]
            found = [c for c in consts if c is not None and c.size == 1]
            if len(found) != 1:
                return None
            value = float(found[0].reshape(-1)[0])
            scale *= value if node.op_type == "Mul" else 1.0 / value
            name = next(i for i, c in zip(node.input, consts, strict=True) if c is None)
        else:
            name = node.input[0]
    return None


def _match(graph: Any, producer: dict[str, Any], softmax: Any) -> dict[str, Any] | None:
    """The pieces of one attention block around `softmax`, or None when it is not one."""
    consumers = [n for n in graph.node if softmax.output[0] in n.input]
    probs = softmax.output[0]
    if len(consumers) == 2 and {n.op_type for n in consumers} == {"IsNaN", "Where"}:
        where = next(n for n in consumers if n.op_type == "Where")
        probs = where.output[0]  # the NaN guard of fully masked rows
    value_matmul = [n for n in graph.node if n.op_type == "MatMul" and n.input[0] == probs]
    if len(value_matmul) != 1:
        return None
    tail = [value_matmul[0]]
    for op in ("Transpose", "Reshape"):  # [B, N, S, D] -> [B, S, N, D] -> [B, S, H]
        nxt = [n for n in graph.node if tail[-1].output[0] in n.input]
        if len(nxt) != 1 or nxt[0].op_type != op:
            return None
        tail.append(nxt[0])
    add = producer.get(softmax.input[0])
    if add is None or add.op_type != "Add":
        return None
    scores, post_scale = None, 1.0
    for name in add.input:  # sdpa: MatMul + mask; eager: MatMul * scale + mask
        node = producer.get(name)
        if node is not None and node.op_type in ("Mul", "Div"):
            consts = [_constant(graph, i) for i in node.input]
            inner = [producer.get(i) for i, c in zip(node.input, consts, strict=True) if c is None]
            found = [c for c in consts if c is not None and c.size == 1]
            if len(found) == 1 and len(inner) == 1 and inner[0] is not None:
                value = float(found[0].reshape(-1)[0])
                post_scale = value if node.op_type == "Mul" else 1.0 / value
                node = inner[0]
        if node is not None and node.op_type == "MatMul":
            scores = node
            break
    if scores is None:
        return None
    q = _projection(graph, producer, scores.input[0])
    k = _projection(graph, producer, scores.input[1])
    v = _projection(graph, producer, value_matmul[0].input[1])
    if q is None or k is None or v is None or v[1] != 1.0:
        return None
    scale = q[1] * k[1] * post_scale
    return {"q": q[0], "k": k[0], "v": v[0], "scale": scale, "out": tail[-1]}


def fuse_attention(
    src: Path, dst: Path, num_heads: int, mask_input: str = "attention_mask"
) -> FuseResult:
    """Write `src` with its attention blocks fused to `dst` (unchanged when none or not all
    match); `num_heads` from the model's config."""
    import onnx
    from onnx import helper

    model = onnx.load(str(src))
    graph = model.graph
    before = len(graph.node)
    producer = _producers(graph)
    softmaxes = [n for n in graph.node if n.op_type == "Softmax"]
    blocks = [_match(graph, producer, s) for s in softmaxes]
    has_mask = any(i.name == mask_input for i in graph.input)
    if not softmaxes or not has_mask or any(b is None for b in blocks):
        onnx.save(model, str(dst))
        return FuseResult(0, before, before)
    mask32 = f"{mask_input}_int32"
    new_nodes = [helper.make_node("Cast", [mask_input], [mask32], name="etb_mask_int32", to=6)]
    replaced: dict[int, list[Any]] = {}
    for i, block in enumerate(blocks):
        assert block is not None
        out = block["out"]
        merged = _merge_projections(graph, producer, block, f"etb_qkv_{i}")
        qkv = [block["q"], block["k"], block["v"]]
        if merged:
            qkv = [f"etb_qkv_{i}_{part}" for part in "qkv"]
            merged[-1].output[:] = qkv
        attention = helper.make_node(
            "MultiHeadAttention",
            [*qkv, "", mask32],
            [out.output[0]],
            name=f"etb_attention_{i}",
            domain="com.microsoft",
            num_heads=num_heads,
            scale=float(block["scale"]),
        )
        replaced[id(out)] = [*merged, attention]
    for node in graph.node:
        new_nodes.extend(replaced.get(id(node), [node]))
    del graph.node[:]
    graph.node.extend(_live(new_nodes, [o.name for o in graph.output]))
    used = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(dst))
    return FuseResult(len(blocks), before, len(graph.node))


def _merge_projections(
    graph: Any, producer: dict[str, Any], block: dict[str, Any], name: str
) -> list[Any]:
    """One MatMul + Add + Split for the Q, K and V projections of one input (when they are
    MatMul(x, W) + b with constant W and b): one GEMM and, once quantized, one activation
    quantization instead of three; the weights' per-column scales are the same. New
    initializers are added to `graph`; returns the nodes (the Split's outputs left to set)."""
    from onnx import helper, numpy_helper

    weights, biases, inputs = [], [], set()
    for part in ("q", "k", "v"):
        add = producer[block[part]]
        matmul = next(producer[i] for i in add.input if i in producer)
        if matmul.op_type != "MatMul":
            return []
        bias = next((_constant(graph, i) for i in add.input if i != matmul.output[0]), None)
        weight = _constant(graph, matmul.input[1])
        if bias is None or weight is None or weight.ndim != 2 or bias.shape != weight.shape[1:]:
            return []
        weights.append(weight)
        biases.append(bias)
        inputs.add(matmul.input[0])
    if len(inputs) != 1:
        return []
    w = numpy_helper.from_array(np.concatenate(weights, axis=1), f"{name}_weight")
    b = numpy_helper.from_array(np.concatenate(biases), f"{name}_bias")
    sizes = numpy_helper.from_array(
        np.array([x.shape[0] for x in biases], np.int64), f"{name}_sizes"
    )
    graph.initializer.extend([w, b, sizes])
    return [
        helper.make_node("MatMul", [inputs.pop(), w.name], [f"{name}_mm"], name=f"{name}_matmul"),
        helper.make_node("Add", [f"{name}_mm", b.name], [f"{name}_out"], name=f"{name}_add"),
        helper.make_node("Split", [f"{name}_out", sizes.name], [], name=f"{name}_split", axis=-1),
    ]


def _live(nodes: list[Any], outputs: list[str]) -> list[Any]:
    """`nodes` without those whose outputs nothing reads (kept in their order)."""
    producer = {out: node for node in nodes for out in node.output}
    needed: set[int] = set()
    stack = list(outputs)
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(i for i in node.input if i)
    return [n for n in nodes if id(n) in needed]
