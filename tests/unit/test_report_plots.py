"""The plots: which panels are drawn from which history, and that each output is a PNG."""

from __future__ import annotations

import struct

import pytest

from etbuilder.report import plots


def size(png: bytes | None) -> tuple[int, int]:
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_x_axis_is_step_and_places_epoch_only_records_on_it() -> None:
    history = [
        {"step": 10, "epoch": 0.5, "loss": 1.0},
        {"step": 20, "epoch": 1.0, "loss": 0.8},
        {"epoch": 1, "validation/accuracy": 0.7},  # no step: at 1 epoch = 20 steps
    ]
    axis = plots._x_axis(history)
    assert axis == ("step", 20.0)
    assert plots._series(history, "validation/accuracy", axis) == ([20.0], [0.7])
    assert plots._series(history, "loss", axis) == ([10.0, 20.0], [1.0, 0.8])


def test_epoch_only_history_uses_an_epoch_axis() -> None:
    history = [{"epoch": e, "validation/f1_macro": 0.5 + e / 10} for e in (1, 2, 3)]
    axis = plots._x_axis(history)
    assert axis == ("epoch", None)
    assert plots._series(history, "validation/f1_macro", axis)[0] == [1.0, 2.0, 3.0]


def test_learning_curve_panels_follow_the_history() -> None:
    assert plots.learning_curves([], "accuracy", "maximize") is None
    only_loss = [{"step": s, "loss": 1 / s} for s in range(1, 5)]
    one = size(plots.learning_curves(only_loss, "accuracy", "maximize"))
    full = [*only_loss, {"step": 4, "epoch": 1, "validation/accuracy": 0.8, "lr": 1e-5}]
    three = size(plots.learning_curves(full, "accuracy", "maximize"))
    assert three[0] > 2.5 * one[0]  # three panels side by side instead of one
    assert three[1] == one[1]
    # NaN and non-numbers are skipped, not plotted.
    assert plots._series(
        [{"step": 1, "loss": float("nan")}, {"step": "x", "loss": 1}], "loss", ("step", None)
    ) == ([], [])


@pytest.mark.parametrize("k", [1, 2, 30])
def test_confusion_matrix_and_per_class_scale_with_labels(k: int) -> None:
    labels = [f"label_{i}" for i in range(k)]
    matrix = [[5 if i == j else 1 for j in range(k)] for i in range(k)]
    width, height = size(plots.confusion_matrix(matrix, labels))
    assert width >= 500 and height >= 500
    per_class = {
        lb: {"precision": 0.5, "recall": 0.5, "f1": i / k, "support": 3}
        for i, lb in enumerate(labels)
    }
    assert size(plots.per_class_f1(per_class, "F1"))[1] > 200


def test_nothing_to_draw_gives_none() -> None:
    assert plots.confusion_matrix([], []) is None
    assert plots.per_class_f1({}, "F1") is None
    assert plots.predicted_vs_true([], []) is None
    assert size(plots.predicted_vs_true([1.0, 2.0, 3.0], [1.1, 1.9, 3.4]))[0] > 500


def test_short_labels_keep_both_ends() -> None:
    assert plots._short("card_payment_fee_charged_extra_5") == "card_paymen…rged_extra_5"
    assert len(plots._short("x" * 100)) == 24
    assert plots._short("short") == "short"
