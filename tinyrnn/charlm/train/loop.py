"""The training loop of a character-level language model: truncated BPTT.

One step of training::

    inputs, targets = next chunk of T steps of the B streams     # (T, B) ids
    logits, state = model(inputs, state)                         # (T, B, V)
    loss = cross_entropy(logits, targets)                        # nats / char
    loss.backward(); clip_grad_norm_(params, grad_clip); optimizer.step()
    state = detach_state(state)      # carried to the next chunk, gradients stop

The text is laid out as B contiguous streams (``data.batchify``), so the
hidden state at the end of one chunk is the right start for the next one: the
network sees an unbroken text while gradients flow back at most T steps.

Everything a run needs to continue *exactly* is in its checkpoint
(:mod:`tinyrnn.charlm.store`): training N steps, stopping, and resuming for M
more gives bit-for-bit the parameters and losses of N + M uninterrupted steps
on the NumPy backend. The run's folder (:mod:`tinyrnn.charlm.train.folder`) holds::

    latest.npz   the state after the last evaluation (or the end, or Ctrl-C)
    best.npz     the state with the lowest validation loss so far (none with --val-frac 0)
    log.csv      one row per step: loss, validation loss, learning rate, speed
                 (and each layer's gradient norm and update ratio: train/watch.py)
    samples.txt  a sample every --sample-every steps
    loss.png     the loss curves (with matplotlib)
"""
from __future__ import annotations

import math
import os
import signal
import sys
import time

import numpy as np

import tinyrnn
from ... import optim
from ...backend import get_rng_state, install_hint, set_rng_state
from ...nn import detach_state
from ...nn.utils import clip_grad_norm_
from ...utils.malloc import keep_freed_memory
from ...utils.threads import ThreadTuner
from .. import store
from ..data import bptt_batches, num_bptt_batches
from ..errors import EXIT_CODES, Diverged, Interrupted, TrainError
from ..model import CharLM
from ..options import Start, check_config
from ..vocab import CharVocab
from .console import Console, GracefulInterrupt
from .corpus import prepare_data
from .folder import RunFolder, writing
from .history import COLUMNS, plot_losses, write_csv
from .watch import Watcher

__all__ = ["Trainer", "PLOT_EVERY"]

PLOT_EVERY = 30.0     # seconds between redraws of loss.png during a run


class Trainer:
    """Truncated-BPTT training of a ``CharLM`` on a text.

    Parameters
    ----------
    cfg : TrainConfig
    start : a :class:`~tinyrnn.charlm.options.Start` (a checkpoint to resume or to
        fine-tune from; a bare ``(arrays, meta)`` means resume), or None
    out : stream for messages (a progress bar goes to stderr)

    The run's folder is locked from construction until :meth:`run` returns.
    """

    def __init__(self, cfg, start: Start | tuple | None = None, out=None):
        check_config(cfg)
        if isinstance(start, tuple):
            start = Start("resume", *start)
        self.cfg, self.out, self.console, self.start = cfg, out or sys.stdout, None, start
        self.backend = store.get_backend_or_error(cfg.backend)
        resuming = start is not None and start.how == "resume"
        vocab = CharVocab.from_json(start.meta["vocab"]) if start else None
        same_as = {**start.meta["data"], "checkpoint": start.meta["path"]} if resuming \
            else None
        self.data = prepare_data(cfg, vocab, same_as)
        if cfg.data is not None:
            cfg.data = self.data.source["path"]      # absolute: found again from anywhere
        self.vocab = self.data.vocab
        self.chunks_per_epoch = num_bptt_batches(self.data.train, cfg.seq_length)

        tinyrnn.manual_seed(cfg.seed)
        if start:
            self.model, _ = store.build_model(start.arrays, start.meta, dropout=cfg.dropout)
        else:
            self.model = CharLM(len(self.vocab), hidden_size=cfg.rnn_size,
                                num_layers=cfg.num_layers, cell=cfg.model,
                                dropout=cfg.dropout, **_path_options(cfg))
        self.model.to(self.backend).train()
        self.params = self.model.parameters()
        self.tuner = ThreadTuner.from_setting(cfg.threads)   # times steps for "auto"
        keep_freed_memory()     # no fresh pages each step: ~1.2-1.3x at char-rnn's size
        self.optimizer = optim.OPTIMIZERS[cfg.optimizer](self.params, lr=cfg.learning_rate)
        # char-rnn multiplies by lr_decay at the end of epoch E = lr_decay_after
        # and of each later one; StepDecay(after=E-1) does exactly that.
        self.schedule = optim.StepDecay(self.optimizer, decay=cfg.lr_decay,
                                        after=max(0, cfg.lr_decay_after - 1))
        self.step, self.state, self.best_val = 0, None, math.inf
        self.watch = Watcher(cfg, self.model)     # --layer-stats-every, --sample-every
        self.history = {k: [] for k in COLUMNS + self.watch.columns}
        self.last_saved = None          # (path, step) of the newest good checkpoint
        if resuming:
            self._restore(start.arrays, start.meta)
        self.total_steps = self.chunks_per_epoch * cfg.max_epochs
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.max_steps)
        self._plotted_at = (-math.inf, None)     # (time, step) of the last plot
        self._said_no_plot = False      # told the user matplotlib is missing
        self.stop_reason = None         # "interrupt" (Ctrl-C), "terminate" (SIGTERM), "time"
        self.phase = "setup"            # "step" or "evaluate": what a Ctrl-C interrupts

        here = resuming and _same_folder(os.path.dirname(start.meta["path"]),
                                         cfg.checkpoint_dir)
        self.folder = RunFolder(cfg.checkpoint_dir, continuing=here, overwrite=cfg.overwrite)
        if self.folder.removed:
            self.say(f"removed {len(self.folder.removed)} temporary file(s) a killed save "
                     f"left in {cfg.checkpoint_dir}: {', '.join(self.folder.removed)}")
        if not os.path.exists(self.folder.file("best.npz")):
            self.best_val = math.inf    # best.npz is the best of what this folder saw

    # ---- one step and one evaluation -------------------------------------
    @property
    def epoch(self) -> int:
        return self.step // self.chunks_per_epoch

    def _tensor(self, ids: np.ndarray):
        return tinyrnn.tensor(ids, backend=self.backend)

    def train_step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """One update on a (T, B) chunk; returns its loss in nats per character."""
        self.model.zero_grad()
        logits, state = self.model(self._tensor(inputs), self.state)
        loss = tinyrnn.cross_entropy(logits, self._tensor(targets))
        value = loss.item()
        if not math.isfinite(value):
            raise self._diverged(f"the loss is {value}")
        loss.backward()
        measure = self.watch.measuring(self.step + 1)
        self.watch.before(measure)
        if self.cfg.grad_clip > 0:
            norm = clip_grad_norm_(self.params, self.cfg.grad_clip)
            if not math.isfinite(norm):
                raise self._diverged(f"the gradient norm is {norm}")
        self.optimizer.step()
        self.watch.after(measure)
        self.state = detach_state(state)
        return value

    def _diverged(self, what: str, step: int | None = None) -> Diverged:
        step = self.step + 1 if step is None else step
        saved = (f"the last good checkpoint is {self.last_saved[0]} (step "
                 f"{self.last_saved[1]})" if self.last_saved else "no checkpoint was written")
        return Diverged(f"training diverged at step {step} (epoch {self.epoch}): "
                        f"{what}; stopped, {saved}; try a lower --learning-rate "
                        "or --grad-clip")

    def evaluate(self) -> float | None:
        """Mean loss (nats per character) over the validation split; None without one."""
        if self.data.val is None:
            return None
        self.model.eval()
        total, count, state = 0.0, 0, None
        with tinyrnn.no_grad():
            for inputs, targets in bptt_batches(self.data.val, self.cfg.seq_length):
                logits, state = self.model(self._tensor(inputs), state)
                total += tinyrnn.cross_entropy(logits, self._tensor(targets),
                                               reduction="sum").item()
                count += targets.size
        self.model.train()
        return total / count

    def sample_text(self, length: int | None = None) -> str:
        """A sample from the model; leaves the training random state untouched.

        It draws from its own generator (seeded by --seed and the step), and the
        shared one is put back afterwards anyway: a resumed run must see the
        same dropout masks whether or not samples were printed.
        """
        from ..sample import sample
        rng = get_rng_state()
        try:
            return sample(self.model, self.vocab, length=length or self.cfg.sample_length,
                          seed=self.cfg.seed + self.step)
        finally:
            set_rng_state(rng)

    # ---- the loop ------------------------------------------------------------
    def run(self) -> int:
        """Train until --max-steps / --max-epochs / --max-time; returns an exit code.

        0: finished; 130: stopped by Ctrl-C, 143: by SIGTERM (both after saving).
        Divergence raises Diverged; a second Ctrl-C raises Interrupted, saying
        what is on disk.
        """
        cfg = self.cfg
        self.console = Console(self.out, self.total_steps, self.step, cfg.max_time)
        self.say(f"training a {cfg.num_layers}-layer {cfg.model} of {cfg.rnn_size} units "
                 f"({self.model.num_parameters():,} parameters) on {self.data.description}: "
                 f"{len(self.vocab)} distinct chars, {self.chunks_per_epoch} steps per "
                 f"epoch, batches of {cfg.batch_size} x {cfg.seq_length}, "
                 f"{self.tuner.describe()}"
                 + (f"; each validation reads {self.data.val.size:,} chars in "
                    f"{num_bptt_batches(self.data.val, cfg.seq_length):,} forward chunks "
                    "(--val-max-chars bounds it)" if self.data.val is not None else "")
                 + (f"; resuming at step {self.step}" if self.step else "")
                 + (f"; starting from the weights of {self.start.meta['path']} "
                    f"({store.describe(self.start.meta)})"
                    if self.start and self.start.how == "finetune" else ""))
        started = time.perf_counter()
        self._plotted_at = (started, None)      # first redraw after PLOT_EVERY seconds
        evaluated_at, speed = None, None
        try:
            # NumPy's overflow warnings would bury the one-line message of the
            # divergence guard, which checks every loss and gradient norm.
            with GracefulInterrupt(self._on_ctrl_c), np.errstate(
                    over="ignore", invalid="ignore", divide="ignore"), \
                    self.tuner.active():
                while self.step < self.total_steps and not self.stop_reason:
                    self.schedule.step(self.epoch)
                    position = self.step % self.chunks_per_epoch
                    if position == 0:
                        self.state = None          # a new epoch starts the streams over
                    chunks = bptt_batches(self.data.train, cfg.seq_length, start=position)
                    for inputs, targets in chunks:
                        tick = time.perf_counter()
                        self.phase = "step"
                        loss = self.tuner.run(self.train_step, inputs, targets)
                        seconds = time.perf_counter() - tick
                        self.step += 1
                        self.phase = "evaluate"
                        self._record(loss, inputs.size / seconds, seconds)
                        speed = inputs.size / seconds if speed is None else \
                            0.9 * speed + 0.1 * inputs.size / seconds    # smoothed
                        self.console.progress(self.step, self.epoch, loss, speed)
                        self.watch.on_step(self)
                        if self.step % cfg.eval_every == 0:
                            # The plot takes ~0.2 s to draw: redraw it at most
                            # every PLOT_EVERY seconds, and at the end.
                            self.validate_and_save(plot=time.perf_counter()
                                                   - self._plotted_at[0] >= PLOT_EVERY)
                            evaluated_at = self.step
                        if cfg.max_time is not None and not self.stop_reason and \
                                time.perf_counter() - started >= cfg.max_time:
                            self.stop_reason = "time"
                        if self.step >= self.total_steps or self.stop_reason:
                            break
                self.phase = "evaluate"
                if evaluated_at != self.step:
                    self.validate_and_save()
                elif self._plotted_at[1] != self.step:
                    self.write_log(plot=True)
        except Diverged:
            self.write_log(plot=True)
            raise
        except KeyboardInterrupt:
            on_disk = (f"the last checkpoint is {self.last_saved[0]} (step "
                       f"{self.last_saved[1]})" if self.last_saved else "nothing was saved")
            during = "validation or saving" if self.phase == "evaluate" else \
                f"step {self.step + 1}"
            raise Interrupted(f"interrupted at once during {during}; {on_disk}") from None
        finally:
            self.console.close()
            self.folder.release()
        self._say_where_it_is()
        return {"interrupt": EXIT_CODES["interrupted"],
                "terminate": EXIT_CODES["terminated"]}.get(self.stop_reason, 0)

    def _say_where_it_is(self) -> None:
        best = (f"; best validation {self.best_val:.4f} nats/char"
                if math.isfinite(self.best_val) else "")
        saved = f"saved step {self.last_saved[1]} in" if self.last_saved else "nothing in"
        self.say(f"stopped at step {self.step} (epoch {self.epoch}){best}; {saved} "
                 f"{self.cfg.checkpoint_dir}")
        if self.data.val is None:
            self.say("(no best.npz: --val-frac 0 leaves no validation text to choose a "
                     "best model by; sample from latest.npz)")

    def _on_ctrl_c(self, signum: int = signal.SIGINT) -> None:
        """The first Ctrl-C (or SIGTERM): finish what is running, then save and stop."""
        term = signum == getattr(signal, "SIGTERM", None)
        self.stop_reason = "terminate" if term else "interrupt"
        what = "step" if self.phase == "step" else "evaluation"
        self.say(f"\n{'SIGTERM' if term else 'Ctrl-C'}: finishing this {what}, then "
                 "saving and stopping (the last line says which step was saved; "
                 f"{'a second signal stops' if term else 'press again to quit'} at once)")

    def _record(self, loss: float, chars_per_sec: float, seconds: float) -> None:
        h = self.history
        elapsed = (h["time_s"][-1] if h["time_s"] else 0.0) + seconds
        for key, value in zip(COLUMNS, (self.step, self.epoch, loss, math.nan,
                                        self.optimizer.lr, chars_per_sec, elapsed)):
            h[key].append(value)
        self.watch.record(h)

    def validate_and_save(self, plot: bool = True) -> None:
        """Validation loss, a sample, and the checkpoints, log (and plot).

        A validation loss that is not finite is a divergence: nothing is
        saved, so ``latest.npz`` stays the last model with a finite loss.
        """
        started = time.perf_counter()
        val = self.evaluate()
        seconds = time.perf_counter() - started
        if self.history["step"] and self.history["step"][-1] == self.step:
            self.history["val_loss"][-1] = math.nan if val is None else val
        if val is not None and not math.isfinite(val):
            raise self._diverged(f"the validation loss is {val}", step=self.step)
        line = (f"step {self.step} (epoch {self.epoch}): train loss "
                f"{self.history['train_loss'][-1]:.4f}" if self.history["step"]
                else f"step {self.step}")
        if val is not None:
            line += f", validation loss {val:.4f} nats/char ({seconds:.1f} s)"
        self.say(line)
        if self.cfg.sample_length > 0:
            self.say("  sample: " + self.sample_text().replace("\n", "\n          "))
        if val is not None and val < self.best_val:
            self.best_val = val
            self.save(self.folder.file("best.npz"))
        latest = self.folder.file("latest.npz")
        self.save(latest)
        self.last_saved = (latest, self.step)
        self.write_log(plot)

    def say(self, message: str) -> None:
        """Print a line without breaking the progress bar."""
        if self.console is not None:
            self.console.say(message)
        else:
            print(message, file=self.out, flush=True)

    # ---- checkpoints ------------------------------------------------------
    def save(self, path: str) -> None:
        """Write everything needed to resume exactly (atomically)."""
        meta = {"train": self.cfg.to_dict(), "data": self.data.source, "step": self.step,
                "epoch": self.epoch, "position": self.step % self.chunks_per_epoch,
                "best_val": self.best_val if math.isfinite(self.best_val) else None,
                "rng_state": get_rng_state()}
        with writing(path, self.last_saved):
            store.save_run(path, self.model, self.vocab,
                           optimizer_state=self.optimizer.state_dict(), state=self.state,
                           history=self.history, meta=meta)

    def _restore(self, arrays: dict, meta: dict) -> None:
        """Load optimizer, step, RNG, hidden state and history from a checkpoint."""
        saved = meta["train"]
        try:
            if saved.get("optimizer") == self.cfg.optimizer:
                self.optimizer.load_state_dict(store.optimizer_state(arrays, meta))
            self.step = int(meta["step"])
            best = meta.get("best_val")
            self.best_val = math.inf if best is None else float(best)
            set_rng_state(meta["rng_state"])
            self.state = store.hidden_state(arrays, meta, self.backend)
            self.history = self.watch.restore(arrays, store.history(arrays, COLUMNS, self.step))
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise TrainError(f"checkpoint {meta['path']!r} cannot be resumed: {e}") from None
        layout = ("batch_size", "seq_length", "train_frac")
        if any(saved.get(k) != getattr(self.cfg, k) for k in layout):
            # Another batch layout: the step count goes on, the streams and
            # the carried state start over.
            self.state = None
        store.check_hidden_state(self.state, self.model, self.cfg, meta["path"])
        self.last_saved = (meta["path"], self.step)

    # ---- log and plot ----------------------------------------------------------
    def write_log(self, plot: bool = True) -> None:
        """``log.csv`` (and ``loss.png`` if ``plot``) in the run's folder."""
        with writing(self.folder.file("log.csv"), self.last_saved):
            write_csv(self.history, self.folder.file("log.csv"))
        if plot:
            with writing(self.folder.file("loss.png"), self.last_saved):
                drawn = plot_losses(self.history, self.folder.file("loss.png"),
                                    title=f"{self.cfg.num_layers}-layer {self.cfg.model}, "
                                          f"{self.cfg.rnn_size} units")
            if not drawn and not self._said_no_plot:
                self._said_no_plot = True
                self.say(f"(no loss.png: plotting needs matplotlib, {install_hint('plot')}; "
                         "log.csv has the numbers)")
            self._plotted_at = (time.perf_counter(), self.step)


def _path_options(cfg) -> dict:
    """``fused=False`` for --no-fused: the readable cells instead of the kernels."""
    return {"fused": False} if cfg.no_fused else {}


def _same_folder(a: str, b: str) -> bool:
    return os.path.isdir(b) and os.path.samefile(a or ".", b)
