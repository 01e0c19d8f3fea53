"""A run's log: one row per step in ``log.csv``, and the loss curves in ``loss.png``."""
from __future__ import annotations

import csv
import importlib.util
import math

from ...utils import checkpoint

__all__ = ["COLUMNS", "write_csv", "plot_losses"]

COLUMNS = ("step", "epoch", "train_loss", "val_loss", "learning_rate", "chars_per_sec",
           "time_s")


def write_csv(history: dict, path: str) -> None:
    """The history as CSV (atomically); an empty cell where there was no validation.

    The columns are :data:`COLUMNS`, then any others the history holds (each
    layer's ``grad_norm:<layer>`` and ``update_ratio:<layer>``, see train/watch.py).
    """
    columns = COLUMNS + tuple(k for k in history if k not in COLUMNS)
    with checkpoint.atomic_open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in zip(*(history[k] for k in columns)):
            writer.writerow(["" if isinstance(v, float) and math.isnan(v) else
                             (f"{v:.6g}" if k not in COLUMNS[:5] else v)
                             for k, v in zip(columns, row)])


def plot_losses(history: dict, path: str, title: str = "") -> bool:
    """Training loss (raw and its running mean) and validation loss against the step.

    Drawn by :func:`tinyrnn.viz.plot_curves`, written atomically. Returns False,
    drawing nothing, when matplotlib is not installed.
    """
    if importlib.util.find_spec("matplotlib") is None:
        return False
    from ... import viz                # drawing is imported only when a run draws

    runs = {"train": {"step": history["step"], "loss": history["train_loss"]}}
    if any(math.isfinite(v) for v in history["val_loss"]):
        runs["validation"] = {"step": history["step"], "loss": history["val_loss"]}
    k = max(1, min(50, len(history["step"]) // 10))
    viz.plot_curves(runs, path, title=title, metrics=("loss",), smooth={"train": k},
                    labels={"loss": "loss (nats per character)"})
    return True
