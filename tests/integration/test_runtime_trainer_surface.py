"""What the engine builds to train a model has the `TrainerSurface`: the loop's Trainer and the
strategies' own (features), built through the strategy table as a run builds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert


def _trainer(tmp: Path, strategy: str):  # type: ignore[no-untyped-def]
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.report.rundir import MetricsLog
    from etbuilder.runtime import setup
    from etbuilder.runtime.trainer_surface import Data
    from etbuilder.spec.loader import load_spec_text

    folder = make_tiny_bert(tmp / "bert")
    data = tmp / "train.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(40)))
    spec = f"""etb: 1
name: surface
data: {{train: {data}}}
task: {{type: classification, text: text, label: label}}
backbone: {{model: {folder}}}
strategy: {strategy}
train: {{epochs: 1, batch_size: 8}}
"""
    plan = compile_spec(load_spec_text(spec))
    accelerator = setup.make_accelerator(plan)
    examples, encoded, tokenizer = setup.load_data(plan)
    model, _ = setup.build(plan)
    batches = Data(
        train=encoded["train"],
        validation=encoded.get("validation"),
        validation_examples=examples.get("validation"),
        pad_id=setup.pad_id(tokenizer),
        loss_scale=setup.loss_scale(plan, encoded["train"]),
    )
    log = MetricsLog(tmp / "metrics.jsonl", truncate_after_step=-1, enabled=False)
    return setup.make_trainer(plan, model, batches, tmp / "run", accelerator, log, quiet=True)


@pytest.mark.parametrize(
    ("strategy", "kind"),
    [("{type: finetune}", "Trainer"), ("{type: features, head: mlp, hidden: 8}", "FeatureTrainer")],
)
def test_trainers_have_the_surface(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str, kind: str
) -> None:
    from etbuilder.runtime.trainer_surface import TrainerSurface

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    trainer = _trainer(tmp_path, strategy)
    assert type(trainer).__name__ == kind
    assert isinstance(trainer, TrainerSurface)
    assert trainer.strategy_figures == {}
    assert trainer.records_throughput is (kind == "Trainer")


def test_an_object_without_the_surface_is_not_one() -> None:
    from etbuilder.runtime.trainer_surface import TrainerSurface

    class Partial:
        def fit(self, progress: object) -> None: ...

    assert not isinstance(Partial(), TrainerSurface)
