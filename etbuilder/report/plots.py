"""PNG plots of a run: learning curves, confusion matrix, per-class F1, regression residuals.

matplotlib is imported lazily and used through its object API with the Agg canvas (no pyplot,
no global backend switch), so plotting is safe inside servers and threads. Every function
returns the PNG bytes, or None when there is nothing to draw; `etbuilder.report.writer`
writes them atomically.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_DPI = 110


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def _short(label: str, width: int = 24) -> str:
    """`label` cut in the middle to `width` characters, keeping both ends distinguishable."""
    if len(label) <= width:
        return label
    head = (width - 1) // 2
    return label[:head] + "…" + label[len(label) - (width - 1 - head) :]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _x_axis(history: Sequence[Mapping[str, Any]]) -> tuple[str, float | None]:
    """The x axis ('step', or 'epoch' when no record has a step) and the steps per epoch.

    Steps per epoch (from records carrying both) place epoch-only records on a step axis.
    """
    ratios = [
        step / epoch
        for r in history
        if (step := _number(r.get("step"))) is not None and (epoch := _number(r.get("epoch")))
    ]
    has_step = any(_number(r.get("step")) is not None for r in history)
    return ("step" if has_step else "epoch"), (max(ratios) if ratios else None)


def _series(
    history: Sequence[Mapping[str, Any]], key: str, axis: tuple[str, float | None]
) -> tuple[list[float], list[float]]:
    """(x, y) of `key` over the history, x on `axis` (see `_x_axis`)."""
    name, steps_per_epoch = axis
    xs: list[float] = []
    ys: list[float] = []
    for record in history:
        y = _number(record.get(key))
        x = _number(record.get(name))
        epoch = _number(record.get("epoch"))
        if x is None and name == "step" and epoch is not None and steps_per_epoch:
            x = epoch * steps_per_epoch
        if y is not None and x is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def _ema(values: list[float], span: int) -> list[float]:
    alpha, out, acc = 2.0 / (span + 1), [], values[0]
    for v in values:
        acc = alpha * v + (1 - alpha) * acc
        out.append(acc)
    return out


Series = tuple[list[float], list[float]]


def _loss_panel(ax: Any, loss: Series, val_loss: Series) -> None:
    if loss[0]:
        smooth = len(loss[1]) > 20
        ax.plot(*loss, color="tab:blue", alpha=0.35 if smooth else 1.0, lw=1, label="training loss")
        if smooth:
            span = max(5, len(loss[1]) // 20)
            ax.plot(
                loss[0],
                _ema(loss[1], span),
                color="tab:blue",
                lw=2,
                label=f"training loss (EMA {span})",
            )
    if val_loss[0]:
        ax.plot(*val_loss, "o-", color="tab:orange", label="validation loss")
    ax.set_title("Loss")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)


def _metric_panel(ax: Any, series: Series, metric: str, direction: str) -> None:
    xs, ys = series
    ax.plot(xs, ys, "o-", color="tab:green", label=f"validation {metric}")
    best = (max if direction == "maximize" else min)(range(len(ys)), key=ys.__getitem__)
    ax.scatter(
        [xs[best]],
        [ys[best]],
        s=120,
        facecolors="none",
        edgecolors="red",
        zorder=3,
        label=f"best {ys[best]:.4f}",
    )
    ax.set_title(f"Validation {metric}")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)


def _lr_panel(ax: Any, lr: Series) -> None:
    ax.plot(*lr, color="tab:purple")
    ax.set_title("Learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))


def learning_curves(
    history: Sequence[Mapping[str, Any]], metric: str, direction: str
) -> bytes | None:
    """Up to three panels: training/validation loss, validation `metric` (best point marked),
    and the learning rate, against the step (or the epoch when no record has a step)."""
    axis = _x_axis(history)
    loss_key = "loss" if any("loss" in r for r in history) else "train/loss"
    loss, val_loss = _series(history, loss_key, axis), _series(history, "validation/loss", axis)
    val_metric = _series(history, f"validation/{metric}", axis) if metric != "loss" else ([], [])
    lr = _series(history, "lr", axis)
    draw: list[Callable[[Any], None]] = []
    if loss[0] or val_loss[0]:
        draw.append(lambda ax: _loss_panel(ax, loss, val_loss))
    if val_metric[0]:
        draw.append(lambda ax: _metric_panel(ax, val_metric, metric, direction))
    if lr[0]:
        draw.append(lambda ax: _lr_panel(ax, lr))
    if not draw:
        return None
    fig, axes = _figure(4.6 * len(draw), 3.6, ncols=len(draw))
    for ax, panel in zip(axes, draw, strict=True):
        panel(ax)
        ax.set_xlabel(axis[0])
        ax.grid(alpha=0.3)
    return _png(fig)


def confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> bytes | None:
    """Heatmap of row-normalised counts (recall per true class); counts printed up to 20 labels.

    Size and fonts scale with the number of labels so that ~80 labels stay readable.
    """
    k = len(labels)
    if k == 0 or not matrix:
        return None
    import numpy as np

    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    side = min(26.0, max(5.0, 0.26 * k + 3.0))
    font = 10.0 if k <= 20 else 8.0 if k <= 60 else 7.0
    fig, (ax,) = _figure(side + 1.2, side)
    from matplotlib.colors import PowerNorm

    # A square-root colour scale keeps rare confusions visible next to a dark diagonal.
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    image = ax.imshow(share, cmap="Blues", norm=norm, interpolation="nearest")
    names = [_short(str(label)) for label in labels]
    ax.set_xticks(range(k), names, rotation=90, fontsize=font)
    ax.set_yticks(range(k), names, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (colour: share of the true class)")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    colour = "white" if share[i, j] > 0.36 else "black"
                    ax.text(
                        j,
                        i,
                        f"{int(counts[i, j])}",
                        ha="center",
                        va="center",
                        fontsize=font,
                        color=colour,
                    )
    fig.colorbar(image, ax=ax, shrink=0.6)
    return _png(fig)


def per_class_f1(per_class: Mapping[str, Mapping[str, Any]], title: str) -> bytes | None:
    """Horizontal bars of F1 per class, worst first at the top, with each class's support."""
    if not per_class:
        return None
    rows = sorted(per_class.items(), key=lambda item: (float(item[1]["f1"]), item[0]))
    k = len(rows)
    font = 9.0 if k <= 40 else 7.0
    fig, (ax,) = _figure(7.0, min(30.0, max(2.5, 0.2 * k + 1.2)))
    names = [f"{_short(str(name))} (n={row['support']})" for name, row in rows]
    f1s = [float(row["f1"]) for _, row in rows]
    ax.barh(range(k), f1s, color=["tab:red" if f < 0.5 else "tab:blue" for f in f1s])
    ax.set_yticks(range(k), names, fontsize=font)
    ax.set_ylim(k - 0.5, -0.5)
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("F1")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    if k <= 40:
        for i, f in enumerate(f1s):
            ax.text(min(f + 0.01, 0.93), i, f"{f:.2f}", va="center", fontsize=font)
    return _png(fig)


def predicted_vs_true(y_true: Sequence[float], y_pred: Sequence[float]) -> bytes | None:
    """Predicted vs true (with the y = x line) and residuals vs predicted."""
    if not y_true:
        return None
    import numpy as np

    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    alpha = 0.7 if t.size < 500 else 0.25
    fig, (left, right) = _figure(10.0, 4.4, ncols=2)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    left.scatter(t, p, s=10, alpha=alpha)
    left.plot([lo, hi], [lo, hi], "--", color="gray", label="y = x")
    left.set_xlabel("true")
    left.set_ylabel("predicted")
    left.set_title("Predicted vs true")
    left.legend(fontsize=8)
    right.scatter(p, p - t, s=10, alpha=alpha, color="tab:orange")
    right.axhline(0.0, ls="--", color="gray")
    right.set_xlabel("predicted")
    right.set_ylabel("predicted - true")
    right.set_title("Residuals")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return _png(fig)
