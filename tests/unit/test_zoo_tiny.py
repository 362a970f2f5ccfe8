"""Formulas against real transformers models, and the shared tiny-BERT fixture (imports torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from etbuilder.zoo import load_tokenizer, resolve_backbone, token_lengths
from etbuilder.zoo.architecture import ARCHITECTURES, encoder_parameters
from tests.fixtures import make_tiny_bert

transformers = pytest.importorskip("transformers")
pytest.importorskip("torch")

SMALL = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2,
         "num_attention_heads": 2, "intermediate_size": 37}  # fmt: skip

CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "bert": ("BertConfig", {**SMALL, "max_position_embeddings": 64}),
    "roberta": ("RobertaConfig", {**SMALL, "max_position_embeddings": 66, "type_vocab_size": 1}),
    "xlm-roberta": ("XLMRobertaConfig", {**SMALL, "max_position_embeddings": 66}),
    "camembert": ("CamembertConfig", {**SMALL, "max_position_embeddings": 66}),
    "electra": ("ElectraConfig", {**SMALL, "embedding_size": 16}),
    "electra-no-projection": ("ElectraConfig", {**SMALL, "embedding_size": 32}),
    "distilbert": (
        "DistilBertConfig",
        {"vocab_size": 99, "dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 37},
    ),
    "mpnet": ("MPNetConfig", {**SMALL, "max_position_embeddings": 66}),
    "albert": ("AlbertConfig", {**SMALL, "embedding_size": 16, "num_hidden_layers": 3}),
    "deberta-v3": (
        "DebertaV2Config",
        {
            **SMALL,
            "type_vocab_size": 0,
            "position_buckets": 16,
            "relative_attention": True,
            "pos_att_type": "p2c|c2p",
            "norm_rel_ebd": "layer_norm",
            "share_att_key": True,
            "position_biased_input": False,
        },
    ),
    "deberta-v2-unshared": (
        "DebertaV2Config",
        {
            **SMALL,
            "relative_attention": True,
            "pos_att_type": ["p2c", "c2p"],
            "share_att_key": False,
            "embedding_size": 16,
            "conv_kernel_size": 3,
        },
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_formula_equals_automodel_parameter_count(case: str) -> None:
    class_name, kwargs = CONFIGS[case]
    config = getattr(transformers, class_name)(**kwargs)
    assert config.model_type in ARCHITECTURES
    model = transformers.AutoModel.from_config(config)
    real = sum(p.numel() for p in model.parameters())
    assert encoder_parameters(config.to_dict()) == (real, True)


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert", mlm_head=True)


def test_tiny_bert_fixture_resolves_and_tokenizes(tiny_mlm: Path) -> None:
    info = resolve_backbone(str(tiny_mlm))
    assert info.source == "local" and info.architecture == "BertForMaskedLM"
    assert (info.layers, info.hidden_size, info.heads, info.intermediate_size) == (2, 32, 2, 64)
    assert info.vocab_size == 30522 and info.max_positions == 128
    assert info.has_mlm_head is True
    bare = transformers.AutoModel.from_pretrained(str(tiny_mlm))
    assert info.parameters == sum(p.numel() for p in bare.parameters())
    assert (tiny_mlm / "model.safetensors").stat().st_size < 5_000_000
    assert token_lengths(load_tokenizer(info), ["Paris is nice"]) == [5]
