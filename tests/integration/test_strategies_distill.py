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


def _spec_file(path: Path, data: Path, backbone: Path, strategy: str, package: bool) -> Path:
    path.write_text(
        "etb: 1\n"
        f"name: {path.stem}\n"
        f"data: {{train: {data}, quoting: false, split: {{validation: 0.2, test: 0.2}}}}\n"
        "task: {type: classification, text: sentence, label: label}\n"
        f"backbone: {{model: {backbone}, max_length: 48}}\n"
        f"strategy: {strategy}\n"
        "train: {epochs: 1, batch_size: 16, learning_rate: 3.0e-3, warmup: 0, seed: 7}\n"
        "compute: {threads: 1}\n"
        f"deploy: {{package: {str(package).lower()}}}\n",
        encoding="utf-8",
    )
    return path


def test_a_spec_teacher_is_trained_first_inside_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`teacher: teacher.yaml`: one `etb run` trains the teacher into <run>/teacher (its own
    plan, metrics and report), distils the student from it, and reports both; a resumed run
    keeps the finished teacher instead of training it again."""
    from etbuilder.cli.main import main
    from etbuilder.report.rundir import RunStatus

    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))
    backbone = make_tiny_bert(tmp_path / "bert", layers=2)
    data = toy_data(tmp_path / "data.tsv", 120, 0.0, seed=3)
    _spec_file(tmp_path / "teacher.yaml", data, backbone, "{type: finetune}", package=False)
    spec = _spec_file(
        tmp_path / "student.yaml",
        data,
        backbone,
        "{type: distill, teacher: teacher.yaml, student_layers: 1}",
        package=False,
    )
    run = tmp_path / "run"
    assert main(["run", str(spec), "--output", str(run), "--quiet"]) == 0
    teacher = run / "teacher"
    for name in ("plan.json", "metrics.json", "report.md", "model/config.json"):
        assert (teacher / name).is_file(), name
    assert RunStatus(teacher).data["state"] == "finished"
    plan = json.loads((run / "plan.json").read_text())
    assert plan["strategy"]["teacher_kind"] == "spec"
    assert plan["strategy"]["teacher_seconds"] is not None  # the tiny teacher's rounds to 0
    assert plan["estimates"]["seconds_teacher"] == pytest.approx(
        plan["strategy"]["teacher_seconds"], abs=0.1
    )
    metrics = json.loads((run / "metrics.json").read_text())
    teacher_metrics = json.loads((teacher / "metrics.json").read_text())
    assert metrics["distill"]["teacher"] == str(teacher)
    assert metrics["distill"]["teacher_test"]["accuracy"] == teacher_metrics["test"]["accuracy"]
    assert metrics["distill"]["teacher_train_seconds"] == teacher_metrics["train_seconds"]
    report = (run / "report.md").read_text()
    assert "## Teacher and student" in report and str(teacher) in report

    # interrupted after the teacher: the resumed run distils from the teacher it has
    stamp = (teacher / "model" / "model.safetensors").stat().st_mtime_ns
    RunStatus(run).update(state="interrupted")
    (run / "metrics.json").unlink()
    assert main(["run", str(spec), "--output", str(run), "--resume", "--quiet"]) == 0
    assert (teacher / "model" / "model.safetensors").stat().st_mtime_ns == stamp
    assert RunStatus(run).data["state"] == "finished"
