"""PNG plots of a run: learning curves, confusion matrix, per-class F1, regression residuals.

matplotlib is imported lazily and used through its object API with the Agg canvas (no pyplot,
no global backend switch), so plotting is safe inside servers and threads. Every function
returns the PNG bytes, or None when there is nothing to draw; `etbuilder.runtime.report`
writes them atomically.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
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


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(x, y) of `key` over the history; x is the step, or the epoch when steps are missing."""
    xs: list[float] = []
    ys: list[float] = []
    for record in history:
        y = _number(record.get(key))
        x = _number(record.get("step"))
        if x is None:
            x = _number(record.get("epoch"))
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


def learning_curves(
    history: Sequence[Mapping[str, Any]], metric: str, direction: str
) -> bytes | None:
    """Training (and validation) loss vs step; validation `metric` vs step, best point marked."""
    loss_key = "loss" if any("loss" in r for r in history) else "train/loss"
    loss = _series(history, loss_key)
    val_loss = _series(history, "validation/loss")
    val_metric = _series(history, f"validation/{metric}") if metric != "loss" else ([], [])
    lr = _series(history, "lr")
    panels = [
        p
        for p in ("loss", "metric", "lr")
        if {"loss": loss[0] or val_loss[0], "metric": val_metric[0], "lr": lr[0]}[p]
    ]
    if not panels:
        return None
    fig, axes = _figure(4.6 * len(panels), 3.6, ncols=len(panels))
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "loss":
            if loss[0]:
                raw_alpha = 0.35 if len(loss[1]) > 20 else 1.0
                ax.plot(*loss, color="tab:blue", alpha=raw_alpha, lw=1, label="training loss")
                if len(loss[1]) > 20:
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
        elif panel == "metric":
            xs, ys = val_metric
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
        else:
            ax.plot(*lr, color="tab:purple")
            ax.set_title("Learning rate")
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.set_xlabel("step")
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


def regression(y_true: Sequence[float], y_pred: Sequence[float]) -> bytes | None:
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
