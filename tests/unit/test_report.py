"""write_report: files, sections, numbers, plots, and atomic writes, for every task type."""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from pathlib import Path

import pytest
from test_report_fixtures import METRIC, make_history, make_plan, make_results

from etbuilder.report import writer as report_module
from etbuilder.report.writer import atomic_write, metrics_json, write_report

TASKS = ["classification", "pair_classification", "multilabel", "regression", "ner", "embedding"]
PLOTS = {
    "classification": {"learning_curves", "confusion_matrix", "per_class_f1"},
    "pair_classification": {"learning_curves", "confusion_matrix", "per_class_f1"},
    "multilabel": {"learning_curves", "per_class_f1"},
    "regression": {"learning_curves", "predicted_vs_true"},
    "embedding": {"learning_curves", "predicted_vs_true"},
    "ner": {"learning_curves", "per_class_f1"},
}
SECTIONS = [
    "# Run report: demo-",
    "## Summary",
    "## Data",
    "## Compiler decisions",
    "## Warnings",
    "## Test metrics",
    "## Worst errors (test)",
    "## Plots",
]


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails unless the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


@pytest.mark.parametrize("task_type", TASKS)
def test_report_for_every_task(tmp_path: Path, task_type: str) -> None:
    plan = make_plan(task_type)
    metrics, rows = make_results(task_type)
    written = write_report(tmp_path, plan, metrics, rows, make_history(METRIC[task_type]))

    assert set(written) == {"metrics", "report"} | PLOTS[task_type]
    for name in PLOTS[task_type]:
        assert written[name] == tmp_path / "plots" / f"{name}.png"
        width, height = png_size(written[name])
        assert width > 200 and height > 150
    assert json.loads(written["metrics"].read_text()) == json.loads(json.dumps(metrics))
    text = written["report"].read_text()
    for section in SECTIONS:
        assert section in text, section
    for name in PLOTS[task_type]:
        assert f"(plots/{name}.png)" in text
    # Summary and data facts, decisions with reasons, warnings.
    assert "minilm-l6" in text and "22.7M parameters" in text
    assert "bf16 (the CPU has avx512_bf16)" in text
    assert "| Samples per second | 171.3000 |" in text  # a run figure, named for humans
    assert "| Training time | 2m 05s (estimated 3m 00s: default throughput) |" in text
    assert "| train | 800 |" in text and "carved from train" in text
    assert "| `backbone.max_length` | 128 | inferred | p99 of train token lengths |" in text
    assert "- **truncation**: 3 training texts exceed 128 tokens" in text
    assert "4 test texts also occur in train" in text
    # The primary metric: test value from compute_metrics, validation value given.
    metric = METRIC[task_type]
    assert f"| **{metric}** | {metrics['test'][metric]:.4f} | 0.7000 |" in text
    assert leftovers(tmp_path) == []


def test_classification_sections(tmp_path: Path) -> None:
    metrics, rows = make_results("classification")
    write_report(tmp_path, make_plan("classification"), metrics, rows, make_history("accuracy"))
    text = (tmp_path / "report.md").read_text()
    cm = metrics["test"]["confusion_matrix"]
    assert "| true \\ predicted | negative | neutral | positive |" in text
    assert "| negative | " + " | ".join(map(str, cm[0])) + " |" in text
    neg = metrics["test"]["per_class"]["negative"]
    assert f"| negative | {neg['precision']:.4f} | {neg['recall']:.4f} | {neg['f1']:.4f} |" in text
    # Worst errors: wrong rows only, most confident first, pipes in text escaped.
    worst = text.split("## Worst errors (test)")[1]
    first = next(r for r in rows if r["score"] == 0.999)
    assert f"| 1 | {first['text'].replace('|', chr(92) + '|')} | {first['label']} |" in worst
    assert "0.999" in worst
    n_wrong = sum(r["label"] != r["prediction"] for r in rows)
    assert f"(of {n_wrong} wrong out of {len(rows)})" in worst
    assert worst.count("\n| ") == 1 + 10  # header + top 10


def test_many_labels_skip_the_markdown_matrix_but_plot_it(tmp_path: Path) -> None:
    labels = [f"intent_{i:02d}_with_a_rather_long_name" for i in range(77)]
    plan = make_plan("classification", labels=labels)
    metrics = {"test": report_module_metrics(labels), "validation": {"accuracy": 0.7}}
    written = write_report(tmp_path, plan, metrics, [], [])
    text = written["report"].read_text()
    assert "| true \\ predicted |" not in text
    assert "Most frequent confusions:" in text
    assert "No test predictions were recorded." in text
    assert "learning_curves" not in written  # empty history: nothing to draw
    width, height = png_size(written["confusion_matrix"])
    assert width > 1500 and height > 1500  # grows with the number of labels
    assert "Label distribution (15 most frequent of 77)" in text


def report_module_metrics(labels: list[str]) -> dict:
    import numpy as np

    from etbuilder.report.metrics import compute_metrics

    rng = np.random.default_rng(3)
    t = rng.integers(0, len(labels), 800)
    p = np.where(rng.random(800) < 0.8, t, rng.integers(0, len(labels), 800))
    return compute_metrics("classification", t, p, labels=labels)


def test_regression_worst_errors_are_largest_absolute(tmp_path: Path) -> None:
    metrics, rows = make_results("regression")
    write_report(tmp_path, make_plan("regression"), metrics, rows, make_history("spearman"))
    worst = (tmp_path / "report.md").read_text().split("## Worst errors (test)")[1]
    first_row = worst.split("| 1 |")[1].split("\n")[0]
    assert "sentence 7 ‖ another 7" in first_row
    assert first_row.strip().endswith("3.500 |")
    assert "| min | max | mean | std |" in (tmp_path / "report.md").read_text()


def test_ner_worst_errors_list_wrong_entities(tmp_path: Path) -> None:
    metrics, rows = make_results("ner")
    write_report(tmp_path, make_plan("ner"), metrics, rows, make_history("entity_f1"))
    text = (tmp_path / "report.md").read_text()
    assert "| entity type | precision | recall | F1 | support |" in text
    worst = text.split("## Worst errors (test)")[1]
    # Mary met Bob in New York: missed PER Mary, PER Bob, LOC New York; wrong LOC Mary, LOC New.
    assert (
        "| 1 | Mary met Bob in New York | PER: Mary; PER: Bob; LOC: New York | "
        "LOC: Mary; LOC: New | 5 |"
    ) in worst
    assert "| 2 | Ann smiled | PER: Ann | - | 1 |" in worst
    assert "(of 2 imperfect out of 4)" in worst


def test_multilabel_worst_errors(tmp_path: Path) -> None:
    metrics, rows = make_results("multilabel")
    write_report(tmp_path, make_plan("multilabel"), metrics, rows, make_history("f1_micro"))
    worst = (tmp_path / "report.md").read_text().split("## Worst errors (test)")[1]
    assert "| # | text | true | missed | wrongly added |" in worst


def test_metrics_json_is_sorted_plain_json(tmp_path: Path) -> None:
    import numpy as np

    metrics = {"validation": {"b": np.float32(0.5), "a": float("nan")}, "best_epoch": np.int64(2)}
    text = metrics_json(metrics)
    assert (
        text
        == json.dumps(
            {"best_epoch": 2, "validation": {"a": None, "b": 0.5}}, sort_keys=True, indent=2
        )
        + "\n"
    )
    assert not math.isnan(json.loads(text)["validation"]["b"])


def test_failed_write_leaves_no_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "metrics.json"
    atomic_write(target, '{"old": true}\n')

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, '{"new": ' + "1" * 100_000)
    assert target.read_text() == '{"old": true}\n'  # the complete old file, untouched
    assert leftovers(tmp_path) == []
    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "report.md", "# half")
    assert not (tmp_path / "report.md").exists()


def test_exception_while_writing_report_leaves_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics, rows = make_results("classification")

    def broken(*args: object, **kwargs: object) -> list[str]:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(report_module, "worst_errors", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        write_report(tmp_path, make_plan("classification"), metrics, rows, [])
    assert not (tmp_path / "report.md").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["best_epoch"] == 2
    assert leftovers(tmp_path) == []

    # A failure while writing metrics.json leaves neither metrics.json nor report.md.
    monkeypatch.undo()
    monkeypatch.setattr(report_module, "metrics_json", broken)
    other = tmp_path / "other"
    with pytest.raises(RuntimeError):
        write_report(other, make_plan("classification"), metrics, rows, [])
    assert not (other / "metrics.json").exists() and not (other / "report.md").exists()


def test_report_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    metrics, rows = make_results("regression")
    written = write_report(tmp_path, make_plan("regression"), metrics, rows, [])
    assert set(written) == {"metrics", "report"}
    assert "Plots skipped: matplotlib is not installed" in written["report"].read_text()
    assert not (tmp_path / "plots").exists()


def test_without_test_split_the_details_describe_validation(tmp_path: Path) -> None:
    metrics, rows = make_results("pair_classification")
    metrics = {"validation": metrics["test"], "best_epoch": 1}
    written = write_report(tmp_path, make_plan("pair_classification"), metrics, rows, [])
    text = written["report"].read_text()
    assert "## Per-class metrics (validation)" in text
    assert "## Confusion matrix (validation)" in text
    assert "## Worst errors (validation)" in text
    assert "| different | duplicate |" in text
    assert {"confusion_matrix", "per_class_f1"} <= set(written)
