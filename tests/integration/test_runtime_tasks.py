"""Every task trains a tiny random BERT on a slice of real data; the artifacts are checked.

One table of cases (task spec + data slice). Each run goes through the real path:
load_spec_text -> compile_spec -> run_plan, then the run folder is inspected.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert

DATA = Path("/work/shared/data")
if not DATA.is_dir():  # a checkout next to the shared folder
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")


def _lines(path: Path, n: int, *, skip: int = 0, encoding: str = "utf-8") -> list[str]:
    with open(path, encoding=encoding) as handle:
        return [line.rstrip("\r\n") for line in handle][skip : skip + n]


def sst2(folder: Path) -> Path:
    rows = _lines(DATA / "sst2_glue" / "train.tsv", 161)
    (folder / "sst2.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "sst2.tsv"


def banking_multilabel(folder: Path) -> Path:
    """Banking77 questions tagged with words of their intent (card_arrival -> card, arrival)."""
    with open(DATA / "banking77" / "train.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    picked = rows[::60][:160]
    out = folder / "banking.jsonl"
    with open(out, "w", encoding="utf-8") as handle:
        for row in picked:
            tags = sorted(set(row["category"].split("_")) & {"card", "transfer", "top", "cash"})
            handle.write(json.dumps({"text": row["text"], "tags": ",".join(tags)}) + "\n")
    return out


def mrpc(folder: Path) -> Path:
    rows = _lines(DATA / "mrpc" / "msr_paraphrase_train.txt", 160, encoding="utf-8-sig")
    (folder / "mrpc.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "mrpc.tsv"


def stsb(folder: Path) -> Path:
    rows = _lines(DATA / "stsb" / "stsb-en-train.csv", 160)
    (folder / "stsb.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "stsb.csv"


def wnut(folder: Path) -> Path:
    text = (DATA / "wnut17" / "wnut17train.conll").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]  # blank lines hold a tab here
    sentences = [s for s in "\n".join(lines).split("\n\n") if s.strip()][:120]
    (folder / "wnut.conll").write_text("\n\n".join(sentences) + "\n\n", encoding="utf-8")
    return folder / "wnut.conll"


COMMON = """
backbone: {{model: {model}}}
train: {{epochs: 4, batch_size: 16, learning_rate: 3.0e-3, warmup: 0, seed: 7}}
compute: {{threads: 1}}
"""

CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "classification": (
        sst2,
        """data: {{train: {data}, quoting: false, split: {{validation: 0.2, test: 0.2}}}}
task: {{type: classification, text: sentence, label: label}}""",
    ),
    "multilabel": (
        banking_multilabel,
        """data: {{train: {data}, split: {{validation: 0.2, test: 0.2, stratify: false}}}}
task: {{type: multilabel, text: text, label: tags}}""",
    ),
    "pair_classification": (
        mrpc,
        """data:
  train: {data}
  header: false
  quoting: false
  columns: [quality, id1, id2, first, second]
  split: {{validation: 0.2, test: 0.2}}
task: {{type: pair_classification, text: [first, second], label: quality}}""",
    ),
    "regression": (
        stsb,
        """data: {{train: {data}, header: false, columns: [a, b, score],
  split: {{validation: 0.2, test: 0.2, stratify: false}}}}
task: {{type: regression, text: a, label: score}}""",
    ),
    "regression_pair": (
        stsb,
        """data: {{train: {data}, header: false, columns: [a, b, score],
  split: {{validation: 0.2, test: 0.2, stratify: false}}}}
task: {{type: regression, text: [a, b], label: score}}""",
    ),
    "ner": (
        wnut,
        """data: {{train: {data}, split: {{validation: 0.2, test: 0.2, stratify: false}}}}
task: {{type: ner}}""",
    ),
    "embedding": (
        stsb,
        """data: {{train: {data}, header: false, columns: [a, b, score],
  split: {{validation: 0.2, test: 0.2, stratify: false}}}}
task: {{type: embedding, text: [a, b], label: score}}""",
    ),
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))


def run_case(name: str, folder: Path, model: Path) -> tuple[Path, dict]:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import run_plan
    from etbuilder.spec.loader import load_spec_text

    make, body = CASES[name]
    data = make(folder)
    text = f"etb: 1\nname: {name.replace('_', '-')}\n" + body.format(data=data)
    text += COMMON.format(model=model)
    plan = compile_spec(load_spec_text(text, base_dir=folder))
    result = run_plan(plan, folder / "run", quiet=True)
    return result.run_dir, result.metrics


def train_losses(run_dir: Path) -> list[float]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r["loss"] for r in map(json.loads, lines) if r.get("kind") == "train"]


@pytest.mark.parametrize("name", list(CASES))
def test_task_trains_and_writes_its_run_folder(name: str, tmp_path: Path, tiny: Path) -> None:
    run_dir, metrics = run_case(name, tmp_path, tiny)

    for file in ("spec.yaml", "plan.json", "run.json", "metrics.jsonl", "metrics.json"):
        assert (run_dir / file).is_file(), file
    assert (run_dir / "report.md").read_text(encoding="utf-8").startswith("# Run report")
    assert json.loads((run_dir / "run.json").read_text())["state"] == "finished"
    assert (run_dir / "model" / "model.safetensors").is_file()
    assert (run_dir / "model" / "tokenizer.json").is_file()
    assert list((run_dir / "checkpoints").glob("step-*"))

    losses = train_losses(run_dir)
    assert len(losses) >= 8
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    if name.startswith("regression"):
        # the head starts at the labels' mean, so the loss starts near their variance (which a
        # tiny random encoder cannot beat by much), far below the mean square a head at 0
        # would start from, and stays there
        scores = [float(row[2]) for row in csv.reader((tmp_path / "stsb.csv").open())]
        square = sum(v * v for v in scores) / len(scores)
        assert max(first, last) < square / 3, f"{losses} against a mean square {square:.2f}"
    else:
        assert last < first, f"loss did not go down: {losses}"

    test = metrics["test"]
    predictions = (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(predictions) == test.get("n", len(predictions)) > 0
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["test"] == json.loads(json.dumps(test))
    config = json.loads((run_dir / "model" / "config.json").read_text())
    if name in ("classification", "pair_classification", "multilabel", "ner"):
        plan = json.loads((run_dir / "plan.json").read_text())
        labels = plan["task"]["labels"]
        assert config["id2label"] == {str(i): label for i, label in enumerate(labels)}
        assert 0.0 <= test["f1_macro"] <= 1.0
    if name.startswith("regression") or name == "embedding":
        assert {"pearson", "spearman", "mse"} <= set(test)
    if name == "embedding":
        assert (run_dir / "model" / "1_Pooling" / "config.json").is_file()


def test_saved_classifier_loads_with_transformers(tmp_path: Path, tiny: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run_dir, _metrics = run_case("classification", tmp_path, tiny)
    model = AutoModelForSequenceClassification.from_pretrained(str(run_dir / "model"))
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "model"))
    assert model.config.problem_type == "single_label_classification"
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").open()]
    batch = tokenizer([r["text"] for r in rows], padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).tolist()
    names = [model.config.id2label[i] for i in predicted]
    agree = sum(a == r["prediction"] for a, r in zip(names, rows, strict=True)) / len(rows)
    assert agree >= 0.95  # bf16 autocast in the run, fp32 here: near-ties may flip


def test_embedding_without_pairs_is_exported_as_is(tmp_path: Path, tiny: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import run_plan
    from etbuilder.runtime.scoring import predict_file
    from etbuilder.spec.loader import load_spec_text

    data = sst2(tmp_path)
    text = f"""etb: 1
name: encoder
data: {{train: {data}, quoting: false}}
task: {{type: embedding, text: sentence}}
backbone: {{model: {tiny}}}
compute: {{threads: 1}}
"""
    plan = compile_spec(load_spec_text(text, base_dir=tmp_path))
    result = run_plan(plan, tmp_path / "run", quiet=True)
    assert result.metrics == {"trained": False}
    assert not (result.run_dir / "checkpoints").exists()
    model = result.run_dir / "model"
    assert json.loads((model / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"]
    source = tmp_path / "texts.jsonl"
    source.write_text('{"sentence": "a fine film"}\n{"sentence": "dull"}\n', encoding="utf-8")
    assert predict_file(result.run_dir, source, tmp_path / "vectors.jsonl") == 2
    rows = [json.loads(line) for line in (tmp_path / "vectors.jsonl").open()]
    vectors = [r["prediction"] for r in rows]
    assert [len(v) for v in vectors] == [32, 32]
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-3 for v in vectors)  # normalised


def test_second_run_reads_tokens_from_the_cache(tmp_path: Path, tiny: Path) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.data import load_examples
    from etbuilder.runtime.encode import cache_dir, cache_key, encode_cached, load_fast_tokenizer
    from etbuilder.spec.loader import load_spec_text

    make, body = CASES["classification"]
    text = "etb: 1\nname: cache\n" + body.format(data=make(tmp_path)) + COMMON.format(model=tiny)
    plan = compile_spec(load_spec_text(text, base_dir=tmp_path))
    examples = load_examples(plan)
    tokenizer = load_fast_tokenizer(plan.backbone.path)
    first = encode_cached(plan, examples["train"], tokenizer)
    second = encode_cached(plan, examples["train"], tokenizer)
    assert (first.meta["cache"], second.meta["cache"]) == ("written", "hit")
    assert (cache_dir() / f"{cache_key(plan, 'train')}.npz").is_file()
    assert (first.sides[0].ids == second.sides[0].ids).all()
    assert (first.targets == second.targets).all()
    longer = plan.model_copy(update={"task": plan.task.model_copy(update={"max_length": 99})})
    assert cache_key(longer, "train") != cache_key(plan, "train")


@pytest.mark.parametrize("strategy", ["finetune", "lora"])
def test_a_new_regression_head_starts_at_the_training_labels_mean(
    strategy: str, tmp_path: Path, tiny: Path
) -> None:
    """A fresh head would predict about 0 on 0-5 labels; it starts at their mean, in the
    LoRA wrapper's trained copy of the head too. A classifier's head is left alone."""
    import numpy as np
    from torch import nn

    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.data import load_examples
    from etbuilder.runtime import setup
    from etbuilder.spec.loader import load_spec_text

    def plan_of(name: str) -> object:
        make, body = CASES[name]
        text = f"etb: 1\nname: {name.replace('_', '-')}\n" + body.format(data=make(tmp_path))
        text += COMMON.format(model=tiny) + f"strategy: {{type: {strategy}}}\n"
        return compile_spec(load_spec_text(text, base_dir=tmp_path))

    plan = plan_of("regression_pair")
    train = load_examples(plan)["train"]  # type: ignore[arg-type]
    model, new = setup.build(plan, train)  # type: ignore[arg-type]
    mean = float(np.mean([float(v) for v in train.labels]))
    assert 1.0 < mean < 4.5 and "classifier.bias" in new
    biases = [
        float(m.bias) for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and m.out_features == 1 and "classifier" in n
    ]  # fmt: skip
    assert biases and all(b == pytest.approx(mean) for b in biases), biases

    plan = plan_of("classification")
    model, _ = setup.build(plan, load_examples(plan)["train"])  # type: ignore[arg-type]
    heads = [m for n, m in model.named_modules() if isinstance(m, nn.Linear) and "classifier" in n]
    assert all(float(m.bias.abs().max()) == 0.0 for m in heads), "a classifier starts at 0"
