"""A run's log: one row per step in ``log.csv``, and the loss curves in ``loss.png``."""
from __future__ import annotations

import csv
import math

import numpy as np

from .. import checkpoint

__all__ = ["COLUMNS", "write_csv", "plot_losses"]

COLUMNS = ("step", "epoch", "train_loss", "val_loss", "learning_rate", "chars_per_sec",
           "time_s")


def write_csv(history: dict, path: str) -> None:
    """The history as CSV (atomically); an empty cell where there was no validation."""
    with checkpoint.atomic_open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for row in zip(*(history[k] for k in COLUMNS)):
            writer.writerow(["" if isinstance(v, float) and math.isnan(v) else
                             (f"{v:.6g}" if k in ("chars_per_sec", "time_s") else v)
                             for k, v in zip(COLUMNS, row)])


def plot_losses(history: dict, path: str, title: str = "") -> bool:
    """Training loss (raw and smoothed) and validation loss against the step.

    matplotlib is imported here, not at the top, and only its object API is
    used (no pyplot, no global state), with the file-only Agg canvas. Returns
    False when matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    steps = np.asarray(history["step"])
    train = np.asarray(history["train_loss"], dtype=float)
    val = np.asarray(history["val_loss"], dtype=float)
    fig = Figure(figsize=(7, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if len(steps):
        ax.plot(steps, train, color="tab:blue", alpha=0.25, lw=0.8)
        k = max(1, min(50, len(train) // 10))
        smooth = np.convolve(train, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1:], smooth, color="tab:blue", label=f"train (mean of {k})")
        has_val = np.isfinite(val)
        if has_val.any():
            ax.plot(steps[has_val], val[has_val], "o-", color="tab:orange", label="validation")
        ax.legend()
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    with checkpoint.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return True
