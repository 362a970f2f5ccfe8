"""Task models load from a backbone folder quietly, initialise what the checkpoint lacks (a
pooler, the head) and carry the label mapping into the saved config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert


def _plan(folder: Path, tmp: Path, task: str = "classification"):  # type: ignore[no-untyped-def]
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec_text

    data = tmp / "train.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(20)))
    spec = f"""etb: 1
name: models
data: {{train: {data}}}
task: {{type: {task}, text: text, label: label}}
backbone: {{model: {folder}}}
"""
    return compile_spec(load_spec_text(spec))


def test_missing_pooler_is_initialised_without_noise(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import load_file, save_file

    from etbuilder.runtime.models import build_model

    folder = make_tiny_bert(tmp_path / "bert")
    weights = load_file(str(folder / "model.safetensors"))
    kept = {k: v for k, v in weights.items() if "pooler" not in k}
    assert len(kept) < len(weights)
    save_file(kept, str(folder / "model.safetensors"), metadata={"format": "pt"})
    plan = _plan(folder, tmp_path)
    capfd.readouterr()
    model, new = build_model(plan)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert any("pooler" in name for name in new)
    assert any("classifier" in name for name in new)
    pooler = model.bert.pooler.dense.weight
    assert pooler.abs().sum() > 0 and pooler.std() < 0.2  # a normal init, not zeros or garbage
    assert model.config.id2label == {0: "a", 1: "b"}
    assert model.config.problem_type == "single_label_classification"


def test_saved_model_reloads_with_its_labels(tmp_path: Path) -> None:
    from etbuilder.runtime.encode import load_fast_tokenizer
    from etbuilder.runtime.models import build_model, load_trained, save_model

    folder = make_tiny_bert(tmp_path / "bert")
    plan = _plan(folder, tmp_path)
    model, _ = build_model(plan)
    save_model(model, plan, tmp_path / "out", load_fast_tokenizer(str(folder)))
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["id2label"] == {"0": "a", "1": "b"}
    again = load_trained(plan, tmp_path / "out")
    assert again.config.label2id == {"a": 0, "b": 1}


def test_half_precision_checkpoint_trains_in_fp32(tmp_path: Path) -> None:
    """A checkpoint saved in bf16 (common on model hubs) still gets fp32 trainable weights:
    AdamW updates of ~1e-5 would round away in bf16."""
    import torch
    from safetensors.torch import load_file, save_file

    from etbuilder.runtime.models import build_model

    folder = make_tiny_bert(tmp_path / "bert")
    weights = load_file(str(folder / "model.safetensors"))
    half = {k: v.to(torch.bfloat16).contiguous() for k, v in weights.items()}
    save_file(half, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    for key in ("dtype", "torch_dtype"):  # as many hub configs: the weights alone say bf16
        config.pop(key, None)
    (folder / "config.json").write_text(json.dumps(config))
    model, _ = build_model(_plan(folder, tmp_path))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    word = model.get_input_embeddings().weight
    expected = half["embeddings.word_embeddings.weight"].float()
    assert torch.equal(word.detach(), expected)
