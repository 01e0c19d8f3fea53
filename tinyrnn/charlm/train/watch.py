"""Is it running, is it learning: per-layer numbers and samples a run writes as it goes.

Two views Karpathy's lectures teach for watching a network train:

* **per layer**, the norm of the gradient and the *update-to-data ratio*,
  how much one step changes the weights relative to their size::

      grad_norm    = ||g||                    (before clipping)
      update_ratio = ||w_after - w_before|| / ||w_before||

  over all the layer's trainable weights. About 1e-3 is healthy; 1e-1 means
  the learning rate is too high (the weights are rewritten every step),
  1e-6 that they hardly move. :class:`LayerStats` measures both on the steps
  it is asked to (``--layer-stats-every``); on other steps it does nothing.
* **samples getting better**: :func:`append_sample` adds a short sample with
  its step to ``samples.txt`` (``--sample-every``); ``python -m tinyrnn
  report`` draws both next to the loss curves.

A layer is a group of parameters: ``embedding``, ``layer0``, ``layer1``, ...
(the recurrent layers' ``*_l0``, ``*_l1`` weights) and ``decoder``.
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..report import SAMPLES_FILE, append_sample

__all__ = ["layer_groups", "layer_columns", "LayerStats", "Watcher"]

_LAYER = re.compile(r"_l(\d+)$")


def layer_groups(model) -> dict:
    """{layer name: [trainable parameters]} in the model's order."""
    groups: dict = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue                      # e.g. the fixed one-hot table
        match = _LAYER.search(name)
        layer = f"layer{match.group(1)}" if match else name.split(".", 1)[0]
        groups.setdefault(layer, []).append(p)
    return groups


def layer_columns(groups: dict) -> tuple:
    """The log columns: ``grad_norm:<layer>`` then ``update_ratio:<layer>`` per layer."""
    return tuple(f"grad_norm:{k}" for k in groups) + tuple(f"update_ratio:{k}" for k in groups)


def _norm(arrays) -> float:
    return math.sqrt(sum(float((a.astype(np.float64) ** 2).sum()) for a in arrays))


class LayerStats:
    """Measure each layer's gradient norm and update ratio around one optimizer step.

    ``before(params)`` (after backward, before clipping) keeps the gradient
    norms and a copy of the weights; ``after()`` (after the step) returns
    ``{column: value}``. Only the steps that are logged pay for the copy.
    """

    def __init__(self, groups: dict):
        self.groups, self._before = groups, None

    def before(self) -> None:
        self._before = {k: ([p.grad.numpy() if p.grad is not None else np.zeros(1)
                             for p in ps], [p.numpy().copy() for p in ps])
                        for k, ps in self.groups.items()}

    def after(self) -> dict:
        row = {}
        for k, ps in self.groups.items():
            grads, old = self._before[k]
            row[f"grad_norm:{k}"] = _norm(grads)
            change = _norm(p.numpy() - w for p, w in zip(ps, old))
            size = _norm(old)
            row[f"update_ratio:{k}"] = change / size if size > 0 else math.nan
        self._before = None
        return row


class Watcher:
    """The loop's hooks for the options above: which columns the log gains, when
    to measure, and the samples written every ``--sample-every`` steps."""

    def __init__(self, cfg, model):
        every = cfg.layer_stats_every or 0
        self.stats = LayerStats(layer_groups(model)) if every else None
        self.every, self.cfg, self.row = every, cfg, {}
        self.columns = layer_columns(self.stats.groups) if self.stats else ()

    def measuring(self, step: int) -> bool:
        """Measure around the update that makes ``step``? Only every N-th step."""
        return self.stats is not None and step % self.every == 0

    def before(self, measure: bool) -> None:
        if measure:
            self.stats.before()

    def after(self, measure: bool) -> None:
        self.row = self.stats.after() if measure else {}

    def record(self, history: dict) -> None:
        """Append this step's layer numbers (NaN on steps not measured)."""
        for key in self.columns:
            history[key].append(self.row.get(key, math.nan))

    def restore(self, arrays: dict, history: dict) -> dict:
        """A resumed history with the layer columns (NaN where a checkpoint has none)."""
        rows = len(history["step"])
        for key in self.columns:
            saved = arrays.get(f"history/{key}")
            history[key] = saved.tolist() if saved is not None and len(saved) == rows \
                else [math.nan] * rows
        return history

    def on_step(self, trainer) -> None:
        """Every --sample-every steps: a sample into samples.txt (and the progress line)."""
        every = self.cfg.sample_every or 0
        if not every or trainer.step % every:
            return
        text = trainer.sample_text(self.cfg.sample_length or 200)
        append_sample(trainer.folder.file(SAMPLES_FILE), trainer.step, trainer.epoch,
                      trainer.history["train_loss"][-1], text)
        if self.cfg.show_sample:
            trainer.console.latest_sample = text
