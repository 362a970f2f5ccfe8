"""`distill`: teacher logits computed once and cached; a truncated student trained on them
agrees with the teacher more often than the same student trained on the labels alone; the run's
metrics compare student and teacher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import make_tiny_bert
from tests.integration.strategies_setup import DATA, compile_plan

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")

TEACHER_TRAIN = "{epochs: 6, batch_size: 16, learning_rate: 3.0e-3, warmup: 0, seed: 7}"
STUDENT_TRAIN = "{epochs: 6, batch_size: 16, learning_rate: 3.0e-3, warmup: 0, seed: 7}"


POSITIVE = ("great", "superb", "lovely", "fun")
NEGATIVE = ("awful", "boring", "terrible", "dull")
FILLER = [
    "the",
    "film",
    "was",
    "and",
    "a",
    "plot",
    "with",
    "actors",
    "story",
    "scene",
    "it",
    "of",
    "to",
    "in",
]


def toy_data(path: Path, rows: int, noise: float, seed: int) -> Path:
    """Sentences with one sentiment word (the rule); `noise` of the labels flipped at random."""
    import random

    rng = random.Random(seed)
    lines = ["sentence\tlabel"]
    for _ in range(rows):
        label = rng.randint(0, 1)
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 8))]
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
        shown = 1 - label if rng.random() < noise else label
        lines.append(f"{' '.join(words)}\t{shown}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _predict(model_dir: Path, texts: list[str]) -> list[int]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    batch = tokenizer(texts, padding=True, truncation=True, max_length=48, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits.argmax(-1).tolist()


def test_distilled_student_follows_its_teacher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etbuilder.runtime.engine import run_plan
    from etbuilder.runtime.strategies.distill import TEACHER_PASSES

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = make_tiny_bert(tmp_path / "bert", layers=2)
    clean = toy_data(tmp_path / "clean.tsv", 240, 0.0, seed=1)
    data = toy_data(tmp_path / "noisy.tsv", 240, 0.4, seed=2)
    teacher = compile_plan(tmp_path, backbone, "{type: finetune}", data=clean, train=TEACHER_TRAIN)
    run_plan(teacher, tmp_path / "teacher", quiet=True)

    start = TEACHER_PASSES["count"]
    runs = {}
    for name, alpha in (("distilled", 1.0), ("labels_only", 0.0)):
        strategy = (
            f"{{type: distill, teacher: {tmp_path / 'teacher'}, student_layers: 1, "
            f"alpha: {alpha}, temperature: 2.0}}"
        )
        plan = compile_plan(tmp_path, backbone, strategy, data=data, train=STUDENT_TRAIN)
        assert plan.strategy.student_layers == [1]
        runs[name] = run_plan(plan, tmp_path / name, quiet=True)
    assert TEACHER_PASSES["count"] == start + 1  # the second student read the cached logits

    texts = [line.split("\t")[0] for line in data.read_text().splitlines()[1:]]
    reference = _predict(tmp_path / "teacher" / "model", texts)
    assert 0.2 < sum(reference) / len(reference) < 0.8  # the teacher learnt the rule
    agree = {
        name: sum(
            a == b
            for a, b in zip(_predict(tmp_path / name / "model", texts), reference, strict=True)
        )
        for name in runs
    }
    assert agree["distilled"] > agree["labels_only"], agree

    saved = json.loads((tmp_path / "distilled" / "metrics.json").read_text())
    block = saved["distill"]
    assert block["student_parameters"] < block["teacher_parameters"]
    assert block["teacher_rows_per_s"] > 0 and block["student_rows_per_s"] > 0
    assert "accuracy" in block["teacher_test"]
    config = json.loads((tmp_path / "distilled" / "model" / "config.json").read_text())
    assert config["num_hidden_layers"] == 1
