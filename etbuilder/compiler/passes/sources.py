"""Pass `resolve_sources`: where each split comes from, and the split recipe when carving."""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.data import SPLIT_ALGORITHM, resolve_source
from etbuilder.plan import SplitRecipe
from etbuilder.plan.tasks import TASK_RULES
from etbuilder.spec.data import SplitSpec

"""Tasks whose single categorical label can stratify a split."""


def resolve_sources(ctx: CompileContext) -> CompileContext:
    """Resolve read options per split; carve missing validation/test from train (seeded)."""
    data = ctx.spec.data
    kind = ctx.spec.task.type
    missing = [name for name in ("validation", "test") if getattr(data, name) is None]
    split = data.split
    split_source = "spec"
    if missing and split is None:
        split = SplitSpec()
        data = data.model_copy(update={"split": split})
        split_source = "default"
    base = ctx.spec_path.parent if ctx.spec_path else None
    sources = tuple(
        s
        for s in (resolve_source(data, name, base) for name in ("train", "validation", "test"))
        if s is not None
    )
    recipe = None
    carved = [s.name for s in sources if s.carved_from_train]
    if split is not None and carved:
        stratify = split.stratify and TASK_RULES[kind].stratify
        recipe = SplitRecipe(
            validation=split.validation if "validation" in carved else 0.0,
            test=split.test if "test" in carved else 0.0,
            stratify=stratify,
            seed=split.seed,
            algorithm=SPLIT_ALGORITHM,
        )
        why = (
            f"no {' or '.join(missing)} file: carve {', '.join(carved)} out of train "
            + ("with the default recipe" if split_source == "default" else "as data.split says")
            + f" (seed {split.seed}"
            + (", stratified by label)" if stratify else ", not stratified")
        )
        if split.stratify and not stratify:
            why += f": {kind} has no single class label to stratify on)"
        elif not stratify:
            why += ")"
        ctx = ctx.decide("data.split", recipe.model_dump(), why, split_source)  # type: ignore[arg-type]
    if data.max_train_rows is not None:
        ctx = ctx.decide(
            "data.max_train_rows",
            data.max_train_rows,
            "only the first rows of the training file are used",
            "spec",
        )
    return ctx.replace(sources=sources, split=recipe)
