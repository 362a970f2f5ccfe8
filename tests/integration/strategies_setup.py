"""Shared by the strategy tests: a tiny BERT, an sst2 slice, a spec compiled with a strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATA = Path("/work/shared/data")
if not DATA.is_dir():  # a checkout next to the shared folder
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def sst2_slice(folder: Path, rows: int = 160, skip: int = 0) -> Path:
    """The header and `rows` sentences of sst2_glue's train.tsv (after `skip` rows)."""
    with open(DATA / "sst2_glue" / "train.tsv", encoding="utf-8") as handle:
        lines = [line.rstrip("\r\n") for line in handle]
    out = folder / f"sst2-{rows}-{skip}.tsv"
    out.write_text("\n".join([lines[0], *lines[1 + skip : 1 + skip + rows]]) + "\n", "utf-8")
    return out


def compile_plan(
    folder: Path,
    backbone: Path,
    strategy: str,
    *,
    data: Path | None = None,
    train: str = "{epochs: 2, batch_size: 16, learning_rate: 3.0e-3, warmup: 0, seed: 7}",
    max_length: int = 48,
) -> Any:
    """The plan of an sst2 classification spec with `strategy` (a YAML flow mapping)."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec_text
    from tests.fixtures.tiny_run import CPU

    data = data or sst2_slice(folder)
    text = (
        "etb: 1\nname: strategy-test\n"
        f"data: {{train: {data}, quoting: false, split: {{validation: 0.2, test: 0.2}}}}\n"
        "task: {type: classification, text: sentence, label: label}\n"
        f"backbone: {{model: {backbone}, max_length: {max_length}}}\n"
        f"strategy: {strategy}\n"
        f"train: {train}\n"
        "compute: {threads: 1}\n"
    )
    return compile_spec(load_spec_text(text, base_dir=folder), hardware=CPU)


def trainable_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
