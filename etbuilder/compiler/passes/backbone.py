"""Pass `resolve_backbone`: the pretrained model from the zoo, its config and its tokenizer."""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext, Source


def resolve_backbone(ctx: CompileContext) -> CompileContext:
    """Resolve `backbone.model` (alias, hub id or folder) reading config and tokenizer files
    only; BackboneError (what was tried, how to fix it) passes through unchanged."""
    from etbuilder import zoo

    spec = ctx.spec.backbone
    base = ctx.spec_path.parent if ctx.spec_path else None
    info = zoo.resolve_backbone(
        spec.model, revision=spec.revision, allow_online=spec.allow_online, base_dir=base
    )
    tokenizer = zoo.load_tokenizer(info)
    why = (
        f"{info.source}: {info.architecture} ({info.model_type}), {info.layers} layers, hidden "
        f"{info.hidden_size}, {info.heads} heads, {info.parameters:,} parameters, "
        f"at most {info.max_positions} tokens"
    )
    source: Source = "spec" if "model" in ctx.spec.backbone.model_fields_set else "default"
    ctx = ctx.decide("backbone.path", info.path, why, source)
    return ctx.replace(backbone=info, tokenizer=tokenizer)
