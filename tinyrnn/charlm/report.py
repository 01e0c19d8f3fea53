"""``python -m tinyrnn report RUN``: one page to see whether a run is learning.

From a run's folder (``log.csv``, and ``samples.txt`` when the run was
trained with ``--sample-every``) it draws ``report.png``, three panels over
the steps:

1. the training loss (faint, and its running mean) and the validation loss;
2. each layer's update-to-data ratio ``||dw|| / ||w||`` on a log scale, with
   the 1e-3 line a healthy run stays near;
3. each layer's gradient norm (before clipping), on a log scale;

and ``report.html``, a self-contained page (the PNG inlined, no scripts, no
network) with the figure and the samples in order, so their improvement
reads from top to bottom.
"""
from __future__ import annotations

import argparse
import base64
import csv
import html
import math
import os

import numpy as np

from .errors import DataError, OptionError

__all__ = ["read_log", "report_figure", "report_html", "add_report_parser", "run_report",
           "append_sample", "read_samples", "SAMPLES_FILE"]

HEALTHY_RATIO = 1e-3
SAMPLES_FILE = "samples.txt"


def append_sample(path: str, step: int, epoch: int, loss: float, text: str) -> None:
    """Add ``text`` to the samples file with a header line naming its step."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"=== step {step} (epoch {epoch}), train loss {loss:.4f}\n{text}\n")


def read_samples(path: str) -> list[tuple[int, str, str]]:
    """The samples of a samples file: (step, header, text) each, in order."""
    samples = []
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read()
    except FileNotFoundError:
        return samples
    for block in content.split("=== step ")[1:]:
        header, _, text = block.partition("\n")
        step = header.split(" ", 1)[0]
        if step.isdigit():
            samples.append((int(step), f"step {header}", text.removesuffix("\n")))
    return samples


def read_log(path: str) -> dict:
    """log.csv as {column: float array}; empty cells are NaN."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise DataError(f"{path!r} does not exist: give the folder of a run of "
                        "`python -m tinyrnn train` (its --checkpoint-dir)") from None
    if len(rows) < 2 or "step" not in rows[0]:
        raise DataError(f"{path!r} holds no log rows (expected a header with 'step')")
    header, body = rows[0], rows[1:]
    try:
        columns = np.array([[float(v) if v else math.nan for v in r] for r in body])
    except ValueError as e:
        raise DataError(f"{path!r} is not a tinyrnn log: {e}") from None
    if columns.ndim != 2 or columns.shape[1] != len(header):
        raise DataError(f"{path!r}: rows of another length than the header")
    return {name: columns[:, k] for k, name in enumerate(header)}


def _layer_curves(ax, log: dict, prefix: str, ylabel: str) -> bool:
    step, drawn = log["step"], False
    for name in log:
        if name.startswith(prefix):
            ok = np.isfinite(log[name]) & (log[name] > 0)
            if ok.any():
                ax.plot(step[ok], log[name][ok], lw=1, label=name[len(prefix):])
                drawn = True
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "not logged\n(train with --layer-stats-every N)",
                ha="center", va="center", transform=ax.transAxes, fontsize=9)
    return drawn


def report_figure(log: dict, path: str | None = None, title: str = ""):
    """The three panels (module docstring) as a Figure, saved at ``path`` as PNG."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(14, 3.8), layout="constrained")
    loss_ax, ratio_ax, grad_ax = fig.subplots(1, 3)
    step, train = log["step"], log["train_loss"]
    k = max(1, min(50, len(train) // 10))
    loss_ax.plot(step, train, lw=0.5, color="C0", alpha=0.35)
    if len(train) >= k:
        loss_ax.plot(step[k - 1:], np.convolve(train, np.ones(k) / k, "valid"), color="C0",
                     label=f"training (mean of {k})")
    val = np.isfinite(log.get("val_loss", np.array([])))
    if val.any():
        loss_ax.plot(step[val], log["val_loss"][val], "o-", ms=3, color="C1",
                     label="validation")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("loss (nats per character)")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8)
    if _layer_curves(ratio_ax, log, "update_ratio:", "update / weights, ||dw|| / ||w||"):
        ratio_ax.axhline(HEALTHY_RATIO, ls="--", color="0.4", lw=1)
        ratio_ax.text(0.98, HEALTHY_RATIO, "healthy: about 1e-3", ha="right", va="bottom",
                      fontsize=8, color="0.3", transform=ratio_ax.get_yaxis_transform())
    _layer_curves(grad_ax, log, "grad_norm:", "gradient norm ||g|| (before clipping)")
    if title:
        fig.suptitle(title, fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def report_html(png: bytes, samples: list, title: str) -> str:
    """The page: the figure inlined as a data URI, then each sample under its step."""
    image = base64.b64encode(png).decode("ascii")
    blocks = "\n".join(f"<h4>{html.escape(header)}</h4><pre>{html.escape(text)}</pre>"
                       for _, header, text in samples) or \
        "<p>No samples: train with --sample-every N to see them improve here.</p>"
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body {{ font-family: sans-serif; "
            "margin: 1.5em; } img { max-width: 100%; } pre { background: #f4f4f4; "
            "padding: 0.6em; white-space: pre-wrap; }</style></head><body>\n"
            f"<h2>{html.escape(title)}</h2>\n<img alt=\"loss, update ratios and gradient "
            f"norms over the steps\" src=\"data:image/png;base64,{image}\">\n"
            f"<h3>Samples as the run went on</h3>\n{blocks}\n</body></html>\n")


def add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="draw a run's loss, update ratios, gradient norms "
                       "and samples on one page",
                       description="Draw report.png and report.html (self-contained) from "
                                   "a run's log.csv and samples.txt.")
    p.add_argument("run", metavar="RUN", help="the run's folder (its --checkpoint-dir)")
    p.add_argument("--out", metavar="DIR", help="where to write them (default: RUN)")


def run_report(args: argparse.Namespace) -> int:
    if not os.path.isdir(args.run):
        raise OptionError(f"RUN {args.run!r} is not a folder: give a run's --checkpoint-dir")
    out = args.out or args.run
    os.makedirs(out, exist_ok=True)
    log = read_log(os.path.join(args.run, "log.csv"))
    samples = read_samples(os.path.join(args.run, SAMPLES_FILE))
    title = f"run {os.path.basename(os.path.abspath(args.run))}: {int(log['step'][-1])} steps"
    png_path = os.path.join(out, "report.png")
    report_figure(log, png_path, title)
    with open(png_path, "rb") as f:
        page = report_html(f.read(), samples, title)
    with open(os.path.join(out, "report.html"), "w", encoding="utf-8") as f:
        f.write(page)
    print(f"wrote report.png and report.html in {out} ({len(samples)} samples)")
    return 0
