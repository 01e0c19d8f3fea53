"""Training a character-level language model with truncated BPTT.

This is the engine behind ``python -m tinyrnn train`` (Karpathy's char-rnn,
in Python). One step of training::

    inputs, targets = next chunk of T steps of the B streams     # (T, B) ids
    logits, state = model(inputs, state)                         # (T, B, V)
    loss = cross_entropy(logits, targets)                        # nats / char
    loss.backward(); clip_grad_norm_(params, grad_clip); optimizer.step()
    state = detach_state(state)      # carried to the next chunk, gradients stop

The text is laid out as B contiguous streams (``data.batchify``), so the
hidden state at the end of one chunk is the right start for the next one: the
network sees an unbroken text while gradients flow back at most T steps.

Everything a run needs to continue *exactly* is in its checkpoint: the
parameters, the optimizer's state, the step (which fixes the epoch and the
position in the data, since the data order is deterministic), the random
generator (dropout) and the carried hidden state. Training N steps, stopping,
and resuming for M more gives bit-for-bit the parameters and losses of N + M
uninterrupted steps on the NumPy backend.

Files written into ``checkpoint_dir`` (each written atomically)::

    latest.npz   the state after the last evaluation (or the end, or Ctrl-C)
    best.npz     the state with the lowest validation loss so far
    log.csv      one row per step: loss, validation loss, learning rate, speed
    loss.png     the loss curves
"""
from __future__ import annotations

import csv
import dataclasses
import math
import os
import signal
import sys
import time
from dataclasses import dataclass

import numpy as np

import tinyrnn
from . import checkpoint, optim
from .nn import detach_state
from .nn.charlm import CharLM
from .backend import BackendError, get_backend, get_rng_state, set_rng_state
from .data import (CharVocab, DataError, batchify, bptt_batches, default_corpus,
                   load_ids, num_bptt_batches, split_ids)
from .nn.utils import clip_grad_norm_

__all__ = ["TrainConfig", "TrainError", "Diverged", "Trainer", "prepare_data",
           "resolve_config", "load_model", "read_checkpoint", "MODELS", "OPTIMIZERS"]

MODELS = ("rnn", "lstm", "gru", "rwa", "fw")
OPTIMIZERS = {"sgd": optim.SGD, "adagrad": optim.Adagrad,
              "rmsprop": optim.RMSprop, "adam": optim.Adam}
ARCHITECTURE = ("model", "rnn_size", "num_layers")   # must match to resume
KIND = "tinyrnn.charlm"                               # meta["kind"] of our checkpoints


class TrainError(Exception):
    """A problem with the user's options, data or checkpoint (one clear line)."""


class Diverged(TrainError):
    """The loss (or the gradient norm) became NaN or infinite."""


@dataclass
class TrainConfig:
    """Every option of a training run (the CLI's options, same names and defaults)."""

    data: str | None = None            # UTF-8 text file; None: the default corpus
    max_chars: int | None = None       # cap on the text (None: default_corpus's 1 M)
    model: str = "lstm"
    rnn_size: int = 128
    num_layers: int = 2
    dropout: float = 0.0
    seq_length: int = 50
    batch_size: int = 50
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    lr_decay: float = 0.97
    lr_decay_after: int = 10
    grad_clip: float = 5.0             # max global gradient norm; 0 turns clipping off
    max_epochs: int = 50
    max_steps: int | None = None
    max_time: float | None = None      # seconds of training in this session
    train_frac: float = 0.95
    val_frac: float = 0.05
    val_max_chars: int | None = None   # validate on the first N chars of the split only
    eval_every: int = 500
    sample_length: int = 200
    checkpoint_dir: str = "checkpoints"
    init_from: str | None = None
    overwrite: bool = False
    seed: int = 123
    backend: str = "numpy"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------
# Options and checkpoints
# ---------------------------------------------------------------------------
def read_checkpoint(path: str) -> tuple[dict, dict]:
    """Load one of our checkpoints: ``(arrays, meta)``, or a TrainError naming the file.

    ``path`` may also be a directory, meaning its ``latest.npz``.
    """
    if os.path.isdir(path):
        path = os.path.join(path, "latest.npz")
    try:
        arrays, meta = checkpoint.load(path, expected=expected_arrays)
    except checkpoint.CheckpointError as e:
        raise TrainError(str(e)) from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise TrainError(f"checkpoint {path!r} is not a tinyrnn char-LM checkpoint "
                         f"(kind {meta.get('kind') if isinstance(meta, dict) else None!r})")
    for key, kind in (("model", dict), ("train", dict), ("vocab", (dict, str)),
                      ("step", int)):
        if not isinstance(meta.get(key), kind):
            raise TrainError(f"checkpoint {path!r} lacks a valid {key!r} in its metadata")
    meta["path"] = path
    return arrays, meta


def expected_arrays(meta: dict, stored: dict) -> dict:
    """What a char-LM checkpoint must hold, computed from its own config.

    ``checkpoint.load`` calls this after reading the meta and the arrays'
    headers, before any data: ``param/*`` must be exactly the parameters of
    the model the config describes. The config's sizes are first bounded by
    the stored parameters (every cell has at least H x H weights per layer),
    so a config claiming a huge model cannot make us build one.
    """
    if meta.get("kind") != KIND or not isinstance(meta.get("model"), dict):
        return {"*": (None, None)}           # read_checkpoint refuses it by name
    config = meta["model"]
    V, H, L = (config.get(k) for k in ("vocab_size", "hidden_size", "num_layers"))
    E = config.get("embedding_dim") or V
    if not all(isinstance(x, int) and x >= 1 for x in (V, H, L, E)):
        raise ValueError(f"its model config {str(config)[:80]} lacks positive sizes")
    stored_bytes = sum(h.nbytes for k, h in stored.items() if k.startswith("param/"))
    least = 4 * (L * H * H + V * E + V * H)
    if least > stored_bytes:
        raise ValueError(f"its config describes at least {least:,} bytes of parameters, "
                         f"but it stores {stored_bytes:,}")
    model = CharLM.from_config(config)
    spec = {f"param/{k}": (p.numpy().dtype, p.shape) for k, p in model.named_parameters()}
    spec.update({"optim/*": (None, None), "state/*": (None, None),
                 "history/*": (np.float64, (None,))})
    return spec


def resolve_config(given: dict) -> tuple[TrainConfig, tuple[dict, dict] | None]:
    """The run's configuration: defaults < the resumed checkpoint's options < ``given``.

    ``given`` holds only the options the user set explicitly. When resuming,
    an explicit --model / --rnn-size / --num-layers that differs from the
    checkpoint's is an error rather than a silent choice.

    Returns the config and the loaded checkpoint ``(arrays, meta)`` (or None).
    """
    unknown = set(given) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise TrainError(f"unknown training options: {', '.join(sorted(unknown))}")
    init_from = given.get("init_from")
    if not init_from:
        return TrainConfig(**given), None
    arrays, meta = read_checkpoint(init_from)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in meta["train"].items()
             if k in fields and k not in ("init_from", "overwrite", "max_time")}
    clash = [f"--{k.replace('_', '-')} {given[k]} (the checkpoint has {saved.get(k)})"
             for k in ARCHITECTURE if k in given and given[k] != saved.get(k)]
    if clash:
        raise TrainError(f"--init-from {init_from}: the checkpoint holds another model: "
                         + "; ".join(clash) + ". Leave these options out to resume it")
    cfg = TrainConfig(**{**saved, **given})
    cfg.init_from = meta["path"]
    return cfg, (arrays, meta)


def load_model(path: str, backend: str = "numpy"):
    """Rebuild a trained model from a checkpoint: ``(model, vocab, meta)``.

    The model is in eval mode on ``backend``. Errors are TrainErrors naming the file.
    """
    arrays, meta = read_checkpoint(path)
    model, vocab = _model_from_meta(arrays, meta)
    model.to(_backend(backend))
    return model.eval(), vocab, meta


def _model_from_meta(arrays: dict, meta: dict, dropout: float | None = None):
    """The checkpoint's model (optionally with another dropout) and vocabulary."""
    path = meta["path"]
    config = dict(meta["model"])
    if dropout is not None:
        config["dropout"] = dropout
    try:
        vocab = CharVocab.from_json(meta["vocab"])
        model = CharLM.from_config(config)
        model.load_state_dict({k[len("param/"):]: v for k, v in arrays.items()
                               if k.startswith("param/")})
    except (DataError, ValueError, TypeError, KeyError) as e:
        raise TrainError(f"checkpoint {path!r} is inconsistent: {e}") from None
    return model, vocab


def _backend(name: str):
    try:
        return get_backend(name)
    except BackendError as e:
        raise TrainError(f"--backend {name}: {e}") from None


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
@dataclass
class CharData:
    """The text of a run, encoded and laid out for truncated BPTT."""

    vocab: CharVocab
    train: np.ndarray        # (N_train, B) streams: a view of the compact ids
    val: np.ndarray | None   # (N_val, B_val) streams (a view), or None without validation
    description: str         # where the text came from, for messages
    num_chars: int


def prepare_data(cfg: TrainConfig, vocab: CharVocab | None = None) -> CharData:
    """Read the text, build (or check against ``vocab``) the vocabulary, split and batch.

    Raises DataError / TrainError with one line naming the problem.
    """
    if cfg.max_chars is not None and cfg.max_chars < 1:
        raise TrainError(f"--max-chars must be >= 1, got {cfg.max_chars}")
    what = "the text of {}, compared with the checkpoint's vocabulary,"
    if cfg.data is None:
        text = default_corpus() if cfg.max_chars is None else default_corpus(cfg.max_chars)
        where = f"the default corpus (Python standard library, {len(text):,} chars)"
        vocab = CharVocab(text) if vocab is None else vocab
        ids = vocab.encode(text, what=what.format(where), dtype=vocab.id_dtype)
    else:                  # streamed: only --max-chars are read, never the whole text
        ids, vocab = load_ids(cfg.data, cfg.max_chars, vocab, what.format(repr(cfg.data)))
        where = f"{cfg.data!r} ({len(ids):,} chars)"
    train, val, _ = split_ids(ids, cfg.train_frac, cfg.val_frac)
    val = val[:cfg.val_max_chars]
    B, T = cfg.batch_size, cfg.seq_length
    if len(train) < B * (T + 1):
        raise TrainError(f"{where} is too short: its training part ({len(train):,} chars "
                         f"at --train-frac {cfg.train_frac}) must fill one batch of "
                         f"--batch-size {B} x (--seq-length {T} + 1) = {B * (T + 1):,} "
                         "chars; use more text or smaller batches")
    val_streams = None
    if cfg.val_frac > 0:
        if len(val) < T + 1:
            raise TrainError(f"{where} is too short for validation: its validation part "
                             f"({len(val):,} chars at --val-frac {cfg.val_frac}) needs at "
                             f"least --seq-length {T} + 1 chars; use more text, a larger "
                             "--val-frac, or --val-frac 0")
        val_streams = batchify(val, min(B, len(val) // (T + 1)), T)
    return CharData(vocab, batchify(train, B, T), val_streams, where, len(ids))


def _check_config(cfg: TrainConfig) -> None:
    """Range checks argparse cannot express (one clear line each)."""
    positive = ("rnn_size", "num_layers", "seq_length", "batch_size", "max_epochs",
                "eval_every")
    for name in positive:
        if getattr(cfg, name) < 1:
            raise TrainError(f"--{name.replace('_', '-')} must be >= 1, "
                             f"got {getattr(cfg, name)}")
    if cfg.val_max_chars is not None and cfg.val_max_chars < 1:
        raise TrainError(f"--val-max-chars must be >= 1, got {cfg.val_max_chars}")
    if cfg.max_steps is not None and cfg.max_steps < 0:
        raise TrainError(f"--max-steps must be >= 0, got {cfg.max_steps}")
    if not 0 <= cfg.dropout < 1:
        raise TrainError(f"--dropout must be in [0, 1), got {cfg.dropout}")
    if not cfg.learning_rate > 0:
        raise TrainError(f"--learning-rate must be > 0, got {cfg.learning_rate}")
    if not 0 < cfg.lr_decay <= 1:
        raise TrainError(f"--lr-decay must be in (0, 1], got {cfg.lr_decay}")
    if cfg.lr_decay_after < 0:
        raise TrainError(f"--lr-decay-after must be >= 0, got {cfg.lr_decay_after}")
    if cfg.grad_clip < 0:
        raise TrainError(f"--grad-clip must be >= 0 (0: no clipping), got {cfg.grad_clip}")
    if cfg.sample_length < 0:
        raise TrainError(f"--sample-length must be >= 0, got {cfg.sample_length}")
    if cfg.model not in MODELS:
        raise TrainError(f"--model must be one of {', '.join(MODELS)}, got {cfg.model!r}")
    if cfg.optimizer not in OPTIMIZERS:
        raise TrainError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, "
                         f"got {cfg.optimizer!r}")


def _check_checkpoint_dir(cfg: TrainConfig) -> None:
    """Refuse to start a new run over another run's checkpoints (unless --overwrite)."""
    folder = cfg.checkpoint_dir
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise TrainError(f"--checkpoint-dir {folder!r} is a file, expected a directory")
    latest = os.path.join(folder, "latest.npz")
    if cfg.overwrite or not os.path.exists(latest):
        return
    if cfg.init_from and os.path.samefile(os.path.dirname(os.path.abspath(cfg.init_from)),
                                          folder):
        return                               # continuing the run that lives there
    raise TrainError(f"--checkpoint-dir {folder!r} already holds a run ({latest}); resume "
                     f"it with --init-from {latest}, choose another --checkpoint-dir, or "
                     "pass --overwrite")


# ---------------------------------------------------------------------------
# The hidden state, flattened for a checkpoint
# ---------------------------------------------------------------------------
def flatten_state(state) -> tuple[list, object]:
    """Tensors of a (nested list/tuple) state, and a JSON structure to rebuild it.

    A leaf becomes its index in the list; a list or tuple ``{"list": [...]}``
    or ``{"tuple": [...]}``; None stays None.
    """
    leaves = []

    def walk(s):
        if s is None:
            return None
        if isinstance(s, (list, tuple)):
            return {type(s).__name__: [walk(x) for x in s]}
        leaves.append(s)
        return len(leaves) - 1
    return leaves, walk(state)


def unflatten_state(structure, leaves: list):
    """The inverse of :func:`flatten_state`."""
    if structure is None:
        return None
    if isinstance(structure, int):
        return leaves[structure]
    (kind, items), = structure.items()
    rebuilt = [unflatten_state(x, leaves) for x in items]
    return tuple(rebuilt) if kind == "tuple" else rebuilt


# ---------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------
PLOT_EVERY = 30.0     # seconds between redraws of loss.png during a run
HISTORY = ("step", "epoch", "train_loss", "val_loss", "learning_rate", "chars_per_sec",
           "time_s")


class Trainer:
    """Truncated-BPTT training of a ``CharLM`` on a :class:`CharData`.

    Parameters
    ----------
    cfg : TrainConfig
    resume : (arrays, meta) of a checkpoint to continue from, or None
    out : stream for messages (progress bars go to stderr)
    """

    def __init__(self, cfg: TrainConfig, resume: tuple[dict, dict] | None = None,
                 out=None):
        _check_config(cfg)
        self.cfg, self.out = cfg, out or sys.stdout
        self.backend = _backend(cfg.backend)
        vocab = CharVocab.from_json(resume[1]["vocab"]) if resume else None
        self.data = prepare_data(cfg, vocab)
        self.vocab = self.data.vocab
        self.chunks_per_epoch = num_bptt_batches(self.data.train, cfg.seq_length)

        _check_checkpoint_dir(cfg)

        tinyrnn.manual_seed(cfg.seed)
        if resume:
            self.model, _ = _model_from_meta(*resume, dropout=cfg.dropout)
        else:
            self.model = CharLM(len(self.vocab), hidden_size=cfg.rnn_size,
                                num_layers=cfg.num_layers, cell=cfg.model,
                                dropout=cfg.dropout)
        self.model.to(self.backend).train()
        self.params = self.model.parameters()
        self.optimizer = OPTIMIZERS[cfg.optimizer](self.params, lr=cfg.learning_rate)
        # char-rnn multiplies by lr_decay at the end of epoch E = lr_decay_after
        # and of each later one; StepDecay(after=E-1) does exactly that.
        self.schedule = optim.StepDecay(self.optimizer, decay=cfg.lr_decay,
                                        after=max(0, cfg.lr_decay_after - 1))
        self.step, self.state, self.best_val = 0, None, math.inf
        self.history = {k: [] for k in HISTORY}
        self.last_saved = None          # (path, step) of the newest good checkpoint
        if resume:
            self._restore(*resume)
        self.total_steps = self.chunks_per_epoch * cfg.max_epochs
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.max_steps)
        self._plotted_at = (-math.inf, None)     # (time, step) of the last plot
        self._said_no_plot = False      # told the user matplotlib is missing
        self.stop_reason = None         # "interrupt" (Ctrl-C) or "time" (--max-time)

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
        if self.cfg.grad_clip > 0:
            norm = clip_grad_norm_(self.params, self.cfg.grad_clip)
            if not math.isfinite(norm):
                raise self._diverged(f"the gradient norm is {norm}")
        self.optimizer.step()
        self.state = detach_state(state)
        return value

    def _diverged(self, what: str) -> Diverged:
        saved = (f"the last good checkpoint is {self.last_saved[0]} (step "
                 f"{self.last_saved[1]})" if self.last_saved else "no checkpoint was written")
        return Diverged(f"training diverged at step {self.step + 1} (epoch {self.epoch}): "
                        f"{what}; stopped, {saved}; try a lower --learning-rate "
                        "or --grad-clip")

    def evaluate(self) -> float:
        """Mean loss (nats per character) over the whole validation split."""
        if self.data.val is None:
            return math.nan
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
        from .sample import sample
        rng = get_rng_state()
        try:
            return sample(self.model, self.vocab, length=length or self.cfg.sample_length,
                          seed=self.cfg.seed + self.step)
        finally:
            set_rng_state(rng)

    # ---- the loop ------------------------------------------------------------
    def run(self) -> int:
        """Train until --max-steps / --max-epochs / --max-time; returns an exit code.

        0: finished; 130: stopped by Ctrl-C (after saving). Divergence raises Diverged.
        """
        cfg = self.cfg
        total = self.total_steps
        self.say(f"training a {cfg.num_layers}-layer {cfg.model} of {cfg.rnn_size} units "
                 f"({self.model.num_parameters():,} parameters) on {self.data.description}: "
                 f"{len(self.vocab)} distinct chars, {self.chunks_per_epoch} steps per "
                 f"epoch, batches of {cfg.batch_size} x {cfg.seq_length}"
                 + (f"; each validation reads {self.data.val.size:,} chars in "
                    f"{num_bptt_batches(self.data.val, cfg.seq_length):,} forward chunks "
                    "(--val-max-chars bounds it)" if self.data.val is not None else "")
                 + (f"; resuming at step {self.step}" if self.step else ""))
        os.makedirs(cfg.checkpoint_dir, exist_ok=True)
        bar = _progress_bar(total, self.step)
        started = time.perf_counter()
        self._plotted_at = (started, None)      # first redraw after PLOT_EVERY seconds
        evaluated_at, speed = None, None
        try:
            # NumPy's overflow warnings would bury the one-line message of the
            # divergence guard, which checks every loss and gradient norm.
            with _GracefulInterrupt(self), np.errstate(over="ignore", invalid="ignore",
                                                        divide="ignore"):
                while self.step < total and not self.stop_reason:
                    self.schedule.step(self.epoch)
                    position = self.step % self.chunks_per_epoch
                    if position == 0:
                        self.state = None          # a new epoch starts the streams over
                    chunks = bptt_batches(self.data.train, cfg.seq_length, start=position)
                    for inputs, targets in chunks:
                        tick = time.perf_counter()
                        loss = self.train_step(inputs, targets)
                        seconds = time.perf_counter() - tick
                        self.step += 1
                        self._record(loss, inputs.size / seconds, seconds)
                        speed = inputs.size / seconds if speed is None else \
                            0.9 * speed + 0.1 * inputs.size / seconds    # smoothed
                        bar.update(1)
                        bar.set_postfix_str(f"epoch {self.epoch}, loss {loss:.3f}, "
                                            f"{speed:,.0f} chars/s")
                        if self.step % cfg.eval_every == 0:
                            # The plot takes ~0.2 s to draw: redraw it at most
                            # every PLOT_EVERY seconds, and at the end.
                            self.validate_and_save(plot=time.perf_counter()
                                                   - self._plotted_at[0] >= PLOT_EVERY)
                            evaluated_at = self.step
                        if cfg.max_time is not None and not self.stop_reason and \
                                time.perf_counter() - started >= cfg.max_time:
                            self.stop_reason = "time"
                        if self.step >= total or self.stop_reason:
                            break
                if evaluated_at != self.step:
                    self.validate_and_save()
                elif self._plotted_at[1] != self.step:
                    self.write_log(plot=True)
        except Diverged:
            self.write_log(plot=True)
            raise
        finally:
            bar.close()
        best = (f"; best validation {self.best_val:.4f} nats/char"
                if math.isfinite(self.best_val) else "")
        self.say(f"stopped at step {self.step} (epoch {self.epoch}){best}; checkpoints "
                 f"in {cfg.checkpoint_dir}")
        return 130 if self.stop_reason == "interrupt" else 0

    def _record(self, loss: float, chars_per_sec: float, seconds: float) -> None:
        h = self.history
        elapsed = (h["time_s"][-1] if h["time_s"] else 0.0) + seconds
        for key, value in zip(HISTORY, (self.step, self.epoch, loss, math.nan,
                                        self.optimizer.lr, chars_per_sec, elapsed)):
            h[key].append(value)

    def validate_and_save(self, plot: bool = True) -> None:
        """Validation loss, a sample, and the checkpoints, log (and plot)."""
        started = time.perf_counter()
        val = self.evaluate()
        seconds = time.perf_counter() - started
        if self.history["step"] and self.history["step"][-1] == self.step:
            self.history["val_loss"][-1] = val
        line = (f"step {self.step} (epoch {self.epoch}): train loss "
                f"{self.history['train_loss'][-1]:.4f}" if self.history["step"]
                else f"step {self.step}")
        if math.isfinite(val):
            line += f", validation loss {val:.4f} nats/char ({seconds:.1f} s)"
        self.say(line)
        if self.cfg.sample_length > 0:
            self.say("  sample: " + self.sample_text().replace("\n", "\n          "))
        latest = os.path.join(self.cfg.checkpoint_dir, "latest.npz")
        if math.isfinite(val) and val < self.best_val:
            self.best_val = val
            self.save(os.path.join(self.cfg.checkpoint_dir, "best.npz"))
        self.save(latest)
        self.last_saved = (latest, self.step)
        self.write_log(plot)

    def say(self, message: str) -> None:
        """Print a line without breaking the progress bar."""
        try:
            from tqdm import tqdm
        except ImportError:
            print(message, file=self.out, flush=True)
        else:
            tqdm.write(message, file=self.out)

    # ---- checkpoints ------------------------------------------------------
    def save(self, path: str) -> None:
        """Write everything needed to resume exactly (atomically, via tinyrnn.checkpoint)."""
        arrays = {f"param/{k}": v for k, v in self.model.state_dict().items()}
        scalars = {}                   # the optimizer's numbers go in the JSON meta
        for key, value in self.optimizer.state_dict().items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{key}"] = value
            else:
                scalars[key] = value
        leaves, structure = flatten_state(self.state)
        for i, t in enumerate(leaves):
            arrays[f"state/{i}"] = t.numpy()
        for key in HISTORY:
            arrays[f"history/{key}"] = np.asarray(self.history[key], dtype=np.float64)
        meta = {"kind": KIND, "model": self.model.config(), "vocab": self.vocab.to_dict(),
                "train": self.cfg.to_dict(), "step": self.step, "epoch": self.epoch,
                "position": self.step % self.chunks_per_epoch,
                "best_val": self.best_val if math.isfinite(self.best_val) else None,
                "rng_state": get_rng_state(), "state_structure": structure,
                "optimizer_scalars": scalars}
        checkpoint.save(path, arrays, meta)

    def _restore(self, arrays: dict, meta: dict) -> None:
        """Load optimizer, step, RNG, hidden state and history from a checkpoint."""
        path = meta["path"]
        saved = meta["train"]
        try:
            opt = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
            opt.update(meta.get("optimizer_scalars", {}))
            if saved.get("optimizer") == self.cfg.optimizer:
                self.optimizer.load_state_dict(opt)
            self.step = int(meta["step"])
            best = meta.get("best_val")
            self.best_val = math.inf if best is None else float(best)
            set_rng_state(meta["rng_state"])
            leaves = [tinyrnn.tensor(arrays[f"state/{i}"], backend=self.backend)
                      for i in range(sum(k.startswith("state/") for k in arrays))]
            self.state = unflatten_state(meta.get("state_structure"), leaves)
            self.history = {k: arrays[f"history/{k}"].tolist() for k in HISTORY}
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise TrainError(f"checkpoint {path!r} cannot be resumed: {e}") from None
        for key in ("step", "epoch"):
            self.history[key] = [int(v) for v in self.history[key]]
        same_layout = (saved.get("batch_size"), saved.get("seq_length"), saved.get("data"),
                       saved.get("max_chars"), saved.get("train_frac")) == \
            (self.cfg.batch_size, self.cfg.seq_length, self.cfg.data, self.cfg.max_chars,
             self.cfg.train_frac)
        if not same_layout:
            # Another text or batch layout: the step count goes on, the streams
            # and the carried state start over.
            self.state = None
        self.last_saved = (path, self.step)

    # ---- log and plot ----------------------------------------------------------
    def write_log(self, plot: bool = True) -> None:
        """``log.csv`` (and ``loss.png`` if ``plot``) beside the checkpoints."""
        path = os.path.join(self.cfg.checkpoint_dir, "log.csv")
        rows = zip(*(self.history[k] for k in HISTORY))
        with checkpoint.atomic_open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(HISTORY)
            for row in rows:
                writer.writerow(["" if isinstance(v, float) and math.isnan(v) else
                                 (f"{v:.6g}" if k in ("chars_per_sec", "time_s") else v)
                                 for k, v in zip(HISTORY, row)])
        if plot:
            drawn = plot_losses(self.history, os.path.join(self.cfg.checkpoint_dir, "loss.png"),
                                title=f"{self.cfg.num_layers}-layer {self.cfg.model}, "
                                      f"{self.cfg.rnn_size} units")
            if not drawn and not self._said_no_plot:
                self._said_no_plot = True
                self.say("(no loss.png: plotting needs matplotlib, "
                         "pip install 'tinyrnn[plot]'; log.csv has the numbers)")
            self._plotted_at = (time.perf_counter(), self.step)


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


# ---------------------------------------------------------------------------
# Small helpers: progress bar, Ctrl-C, atomic text files
# ---------------------------------------------------------------------------
def _progress_bar(total: int, initial: int):
    """A tqdm bar on stderr, hidden when stderr is not a terminal or TQDM_DISABLE is set."""
    try:
        from tqdm import tqdm
    except ImportError:                       # tqdm is optional: no bar then
        return _NoBar()
    # tqdm reads TQDM_* environment variables only for options not passed
    # explicitly, and ``disable=None`` (hide when not a terminal) must be.
    off = os.environ.get("TQDM_DISABLE", "").lower() not in ("", "0", "false", "no")
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                disable=True if off else None)


class _NoBar:
    def update(self, n=1): pass
    def set_postfix_str(self, s): pass
    def close(self): pass


class _GracefulInterrupt:
    """The first Ctrl-C asks the loop to stop after the current step (and save);
    a second one interrupts at once."""

    def __init__(self, trainer: Trainer):
        self.trainer, self.previous = trainer, None

    def _handler(self, signum, frame):
        if self.trainer.stop_reason == "interrupt":
            raise KeyboardInterrupt
        self.trainer.stop_reason = "interrupt"
        self.trainer.say(f"\nCtrl-C: stopping after step {self.trainer.step + 1} and "
                         "saving (press again to quit at once)")

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:          # not the main thread: leave Ctrl-C alone
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
