"""worst_errors: which rows a report lists first, per task, and how cells are made safe."""

from __future__ import annotations

from etbuilder.report.worst_errors import as_float, cell, worst_errors


def test_classification_orders_by_confidence_and_skips_unlabelled_rows() -> None:
    rows = [
        {"text": "a", "label": "ham", "prediction": "spam", "score": 0.6},
        {"text": "b", "label": "spam", "prediction": "spam", "score": 0.99},  # right
        {"text": "c", "label": "spam", "prediction": "ham", "score": 0.9},
        {"text": "d", "prediction": "ham", "score": 0.95},  # no gold label
        {"text": "e", "label": 1, "prediction": "1", "score": 0.97},  # same label, other type
    ]
    lines = worst_errors("classification", rows)
    assert lines[0] == "The 2 most confident wrong predictions (of 2 wrong out of 4):"
    body = [line for line in lines if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert body == ["| 1 | c | spam | ham | 0.900 |", "| 2 | a | ham | spam | 0.600 |"]


def test_top_limits_rows_and_no_errors_message() -> None:
    rows = [{"text": str(i), "label": "x", "prediction": "y", "score": i / 100} for i in range(30)]
    lines = worst_errors("pair_classification", rows, top=3)
    assert sum(line.startswith("|") for line in lines) == 2 + 3  # header, rule, 3 rows
    assert "| 1 | 29 | x | y | 0.290 |" in lines
    right = [{"text": "t", "label": "x", "prediction": "x", "score": 1.0}]
    assert worst_errors("classification", right) == ["No wrong prediction on the test set."]
    assert worst_errors("classification", []) == ["No test predictions were recorded."]


def test_regression_accepts_numeric_strings_and_sorts_by_absolute_error() -> None:
    rows = [
        {"text": ["a", "b"], "label": "1.0", "prediction": 1.5},
        {"text": "c", "label": 4.0, "prediction": 1.0},
        {"text": "d", "label": "n/a", "prediction": 2.0},  # not a number: skipped
    ]
    lines = worst_errors("regression", rows)
    assert lines[0] == "The 2 largest absolute errors (of 2):"
    assert "| 1 | c | 4.000 | 1.000 | 3.000 |" in lines
    assert "| 2 | a ‖ b | 1.000 | 1.500 | 0.500 |" in lines


def test_multilabel_counts_missed_and_added_labels() -> None:
    rows = [
        {"text": "one", "label": ["a", "b"], "prediction": ["a"]},
        {"text": "two", "label": ["a"], "prediction": ["b", "c"]},
        {"text": "ok", "label": ["c"], "prediction": ["c"]},
    ]
    lines = worst_errors("multilabel", rows)
    assert lines[0] == "The 2 examples with the most wrong labels (of 2 imperfect out of 3):"
    assert lines[4] == "| 1 | two | a | a | b ‖ c |"
    assert lines[5] == "| 2 | one | a ‖ b | b | - |"


def test_ner_all_right() -> None:
    rows = [{"tokens": ["Paris"], "tags": ["B-LOC"], "prediction": ["B-LOC"]}]
    assert worst_errors("ner", rows) == ["Every test sentence got exactly its entities."]


def test_cell_is_one_safe_line() -> None:
    assert cell("a | b\nc  d") == "a \\| b c d"
    assert cell("<script>") == "&lt;script>"
    assert cell("x" * 200, width=10) == "x" * 9 + "…"
    assert cell(0.123456) == "0.1235"
    assert as_float("2.5") == 2.5 and as_float("nan") is None and as_float(True) is None
