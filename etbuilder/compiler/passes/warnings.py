"""Pass `collect_warnings`: what the user should look at before spending compute."""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.compiler.passes.precision import uses_gpu
from etbuilder.compiler.passes.task import IMBALANCE_RATIO, imbalance_ratio
from etbuilder.plan.tasks import TASK_RULES

TRUNCATION_LIMIT = 0.01
"""Warn when more than this fraction of training examples is truncated."""
TINY_ROWS = 100
"""Warn below this many training rows."""
TINY_PER_CLASS = 10
"""Warn when a class has fewer training examples than this."""


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def collect_warnings(ctx: CompileContext) -> CompileContext:
    """Turn the profile and the estimates into warnings, each with what to do."""
    kind = ctx.spec.task.type
    train = ctx.profile("train")
    if train is None:
        return ctx
    counts = train.label_counts
    classes = TASK_RULES[kind].labels in ("classes", "multi")
    if classes and counts:
        ratio = imbalance_ratio(counts)
        if ratio > IMBALANCE_RATIO:
            big = max(counts, key=lambda k: (counts[k], k))
            small = min(counts, key=lambda k: (counts[k], k))
            ctx = ctx.warn(
                "class_imbalance",
                f"classes are imbalanced: {big!r} has {counts[big]:,} training examples, "
                f"{small!r} {counts[small]:,} ({ratio:.1f}x); the metric is "
                f"{ctx.need('task').metric}; consider more data for the rare classes",
            )
    if train.lengths is not None and train.rows:
        fraction = train.lengths.truncated / train.rows
        if fraction > TRUNCATION_LIMIT:
            ctx = ctx.warn(
                "truncation",
                f"{train.lengths.truncated:,} training examples ({fraction:.1%}) are longer than "
                f"max_length {ctx.max_length} and lose their tail; raise backbone.max_length "
                f"(longest: {train.lengths.max} tokens) if the end of the text matters",
            )
    ctx = _tiny(ctx, train.rows, counts if classes else {})
    if ctx.train_test_overlap:
        test = ctx.profile("test")
        ctx = ctx.warn(
            "train_test_overlap",
            f"{ctx.train_test_overlap:,} of {test.rows if test else 0:,} test examples also "
            "occur in train (same text after lower-casing and collapsing spaces): the test "
            "score will be optimistic; deduplicate the files",
        )
    for profile in ctx.profiles:
        if profile.duplicates:
            ctx = ctx.warn(
                "duplicate_rows",
                f"{profile.name}: {profile.duplicates:,} rows repeat an earlier row exactly "
                f"(of {profile.rows:,}); deduplicate the file",
            )
        if profile.empty_texts:
            ctx = ctx.warn(
                "empty_texts",
                f"{profile.name}: {profile.empty_texts:,} examples have an empty or "
                "whitespace-only text; remove them or fill them in",
            )
        if profile.unseen_labels:
            shown = ", ".join(repr(x) for x in profile.unseen_labels[:10])
            ctx = ctx.warn(
                "unseen_labels",
                f"{profile.name} has labels the training data never shows: {shown}; the model "
                "can never predict them",
            )
    return _memory(ctx)


def _tiny(ctx: CompileContext, rows: int, counts: dict[str, int]) -> CompileContext:
    if rows < TINY_ROWS:
        return ctx.warn(
            "tiny_dataset",
            f"only {rows} training rows: expect noisy results; more data, or strategy "
            "`features` / `lora`, suits tiny datasets better",
        )
    rare = sorted(k for k, v in counts.items() if v < TINY_PER_CLASS)
    if rare:
        shown = ", ".join(f"{k!r} ({counts[k]})" for k in rare[:10])
        return ctx.warn(
            "tiny_dataset",
            f"{len(rare)} class(es) have fewer than {TINY_PER_CLASS} training examples: {shown}",
        )
    return ctx


def _memory(ctx: CompileContext) -> CompileContext:
    estimates = ctx.need("estimates")
    hw = ctx.hardware
    if uses_gpu(ctx) != (hw.device == "cuda") or not hw.memory_bytes:
        return ctx  # planned for other hardware than this machine: nothing to compare with
    need = estimates.memory_bytes["total"]
    if need > hw.memory_bytes:
        where = "GPU" if hw.device == "cuda" else "RAM"
        batch = ctx.need("schedule").batch_size
        ctx = ctx.warn(
            "batch_too_large",
            f"one process needs about {_gib(need)} ({_gib(estimates.memory_bytes['activations'])}"
            f" of activations at batch {batch} x {ctx.max_length} tokens), "
            f"more than the {_gib(hw.memory_bytes)} of {where} on {hw.device_name}; lower "
            "train.batch_size (set train.global_batch to keep the global batch)",
        )
    return ctx
