"""`lora` / `dora` through peft: the planned trainable count, merged == unmerged outputs, an
end-to-end run whose model/ is a plain transformers folder, and resume from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert
from tests.integration.strategies_setup import DATA, compile_plan, trainable_count

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


@pytest.mark.parametrize("variant", ["lora", "dora"])
def test_adapters_match_the_plan_and_merge_exactly(
    variant: str, tmp_path: Path, tiny: Path
) -> None:
    import torch
    from peft import PeftModel

    from etbuilder.runtime import setup

    plan = compile_plan(tmp_path, tiny, f"{{type: lora, variant: {variant}, r: 4}}")
    model, _new = setup.build(plan)
    assert isinstance(model, PeftModel)
    assert trainable_count(model) == plan.strategy.trainable_parameters
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("classifier" in n for n in trainable)  # the head trains in full
    assert all("lora_" in n or "classifier" in n for n in trainable), trainable

    torch.manual_seed(0)
    with torch.no_grad():  # move the adapters off their zero start
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.add_(torch.randn_like(param) * 0.1)
    model.eval()
    batch = {
        "input_ids": torch.randint(1000, 2000, (4, 12)),
        "attention_mask": torch.ones(4, 12, dtype=torch.long),
    }
    with torch.no_grad():
        unmerged = model(**batch).logits
        merged_model = setup.export_model(plan, model)
        merged = merged_model(**batch).logits
    assert not isinstance(merged_model, PeftModel)
    assert not any("lora_" in n for n, _ in merged_model.named_parameters())
    assert torch.allclose(merged, unmerged, atol=1e-5), (merged - unmerged).abs().max()


def test_lora_run_saves_a_plain_model_and_resumes(tmp_path: Path, tiny: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from etbuilder.runtime import checkpoint as ckpt
    from etbuilder.runtime.engine import run_plan

    train = "{epochs: 2, batch_size: 16, learning_rate: 1.0e-2, warmup: 0, seed: 7}"
    plan = compile_plan(tmp_path, tiny, "{type: lora, r: 4}", train=train)
    result = run_plan(plan, tmp_path / "run", quiet=True)
    model_dir = tmp_path / "run" / "model"
    assert not (model_dir / "adapter_config.json").exists()
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    names = [n for n, _ in model.named_parameters()]
    assert not any("lora_" in n or "modules_to_save" in n for n in names)
    assert 0.0 <= result.metrics["test"]["accuracy"] <= 1.0
    losses = [
        json.loads(line)["loss"]
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        if json.loads(line).get("kind") == "train"
    ]
    assert sum(losses[-2:]) < sum(losses[:2]), losses

    # resume: restart from the first epoch's checkpoint in a copy of the run folder
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(tmp_path / "run", copy)
    steps = sorted(int(p.name.split("-")[1]) for p in (copy / "checkpoints").glob("step-*"))
    for folder in (copy / "checkpoints").glob("step-*"):
        if int(folder.name.split("-")[1]) != steps[0]:
            shutil.rmtree(folder)
    shutil.rmtree(copy / "model")
    status = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps(status | {"state": "interrupted"}))
    assert ckpt.latest(copy / "checkpoints") is not None
    run_plan(plan, copy, resume=True, quiet=True)
    again = AutoModelForSequenceClassification.from_pretrained(str(copy / "model"))
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), name


def test_lora_on_an_embedding_model_adapts_only_the_encoder(tmp_path: Path, tiny: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime import setup
    from etbuilder.spec.loader import load_spec_text
    from tests.fixtures.tiny_run import CPU

    rows = (DATA / "stsb" / "stsb-en-train.csv").read_text(encoding="utf-8").splitlines()[:120]
    (tmp_path / "stsb.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = (
        "etb: 1\nname: emb-lora\n"
        "data: {train: stsb.csv, header: false, columns: [a, b, score],\n"
        "  split: {validation: 0.2, test: 0.2, stratify: false}}\n"
        "task: {type: embedding, text: [a, b], label: score}\n"
        f"backbone: {{model: {tiny}, max_length: 32}}\nstrategy: {{type: lora, r: 4}}\n"
    )
    plan = compile_spec(load_spec_text(spec, base_dir=tmp_path), hardware=CPU)
    model, _new = setup.build(plan)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable), trainable
    assert trainable_count(model) == plan.strategy.trainable_parameters
    merged = setup.export_model(plan, model)
    assert not any("lora_" in n for n, _ in merged.named_parameters())
