"""The char-LM training loop (tinyrnn.charlm.train.loop): learning, exact resume, divergence,
interrupted checkpoint writes, Ctrl-C, logs. Tiny models on tiny texts."""
import io
import math
import os
import signal
import sys
import tracemalloc

import numpy as np
import pytest

import tinyrnn
from tinyrnn.utils import checkpoint
from tinyrnn.charlm import num_bptt_batches
from tinyrnn.charlm.options import MODELS, TrainConfig, resolve_config
from tinyrnn.charlm.errors import Diverged, ModelFileError, TrainError
from tinyrnn.charlm.train.console import _progress_bar
from tinyrnn.charlm.train.corpus import prepare_data
from tinyrnn.charlm.train.loop import Trainer
from tinyrnn.charlm.store import flatten_state, read_checkpoint, unflatten_state


def small_text(lines: int = 60) -> str:
    """A deterministic code-like text with a small vocabulary."""
    rng = np.random.default_rng(0)
    words = ["def", "return", "self", "x", "y", "(", ")", ":", "=", "+", "if", "else"]
    return "".join(" ".join(rng.choice(words, size=rng.integers(2, 7))) + "\n"
                   for _ in range(lines))


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(small_text(), encoding="utf-8")
    return str(path)


def config(text_file, folder, **options) -> TrainConfig:
    base = dict(data=text_file, rnn_size=8, num_layers=2, batch_size=4, seq_length=8,
                eval_every=5, sample_length=10, checkpoint_dir=str(folder), seed=7)
    return TrainConfig(**{**base, **options})


def resume(folder, **options) -> Trainer:
    """A Trainer continuing the run in ``folder`` (as --init-from does)."""
    cfg, ckpt = resolve_config({"init_from": os.path.join(folder, "latest.npz"), **options})
    return Trainer(cfg, ckpt)


def snapshot(folder) -> tuple[dict, dict]:
    arrays, meta = checkpoint.load(os.path.join(folder, "latest.npz"))
    return arrays, meta


# ---------------------------------------------------------------------------
def test_training_learns_a_repetitive_text(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_text("hello world, hello tinyrnn!\n" * 60, encoding="utf-8")
    cfg = TrainConfig(data=str(path), rnn_size=16, num_layers=1, batch_size=4,
                      seq_length=16, learning_rate=1e-2, max_steps=60, eval_every=30,
                      sample_length=0, checkpoint_dir=str(tmp_path / "ck"))
    trainer = Trainer(cfg)
    assert trainer.run() == 0
    losses = trainer.history["train_loss"]
    assert losses[0] > 2.5                      # about ln(15) = 2.7 at the start
    assert losses[-1] < 1.0 and trainer.best_val < 1.0


def test_data_is_streams_of_the_text(text_file):
    cfg = TrainConfig(data=text_file, batch_size=4, seq_length=8)
    data = prepare_data(cfg)
    text = small_text()
    n_train = int(len(text) * 0.95)
    column = data.vocab.decode(data.train[:, 1])
    rows = len(data.train)
    assert column == text[rows:2 * rows] and rows == n_train // 4
    assert data.vocab.chars == "".join(sorted(set(text)))


@pytest.mark.parametrize("model", MODELS)
def test_resume_is_exact(tmp_path, text_file, model):
    """N steps, stop, resume for M gives what N + M steps uninterrupted give: the
    same parameters, optimizer state, hidden state, RNG and logged losses. The
    runs cross an epoch boundary (state reset, learning-rate decay) and use dropout."""
    options = dict(model=model, dropout=0.3, lr_decay=0.5, lr_decay_after=0, eval_every=10)
    one = Trainer(config(text_file, tmp_path / "one", max_steps=30, **options))
    assert one.chunks_per_epoch < 30            # the runs cross an epoch boundary
    one.run()
    two = Trainer(config(text_file, tmp_path / "two", max_steps=10, **options))
    two.run()
    two = resume(tmp_path / "two", max_steps=30)
    assert two.step == 10 and two.run() == 0

    (a, meta_a), (b, meta_b) = snapshot(tmp_path / "one"), snapshot(tmp_path / "two")
    exact = [k for k in a if not k.startswith("history/")] + \
        ["history/step", "history/train_loss", "history/learning_rate"]
    assert set(a) == set(b) and any(k.startswith("state/") for k in a)
    for key in exact:
        assert np.array_equal(a[key], b[key]), key
    assert np.array_equal(a["history/val_loss"], b["history/val_loss"], equal_nan=True)
    assert meta_a["rng_state"] == meta_b["rng_state"]
    assert meta_a["step"] == meta_b["step"] == 30
    assert one.history["learning_rate"][-1] == 2e-3 * 0.5 ** one.epoch


def test_resume_on_every_backend(tmp_path, text_file, backend):
    """The loop, its checkpoint and its resume run on the strict Array-API device
    too (no NumPy leaks on the path CuPy takes), and resume exactly there."""
    options = dict(backend=backend, num_layers=1, max_steps=4, eval_every=2,
                   sample_length=0)
    one = Trainer(config(text_file, tmp_path / "one", **options))
    one.run()
    Trainer(config(text_file, tmp_path / "two", **{**options, "max_steps": 2})).run()
    two = resume(tmp_path / "two", max_steps=4)
    two.run()
    assert one.history["train_loss"] == two.history["train_loss"]
    for (name, p), q in zip(one.model.named_parameters(), two.model.parameters()):
        assert np.array_equal(p.numpy(), q.numpy()), name


def test_state_flattening_round_trips():
    h, c, n = (tinyrnn.tensor(np.full((2, 3), v, dtype=np.float32)) for v in (1, 2, 3))
    state = [(h, c), n, None, [h]]
    leaves, structure = flatten_state(state)
    assert len(leaves) == 4
    rebuilt = unflatten_state(structure, leaves)
    assert isinstance(rebuilt, list) and isinstance(rebuilt[0], tuple)
    assert rebuilt[0][1] is c and rebuilt[1] is n and rebuilt[2] is None
    assert isinstance(rebuilt[3], list) and rebuilt[3][0] is h
    assert unflatten_state(*reversed(flatten_state(None))) is None


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, text_file):
    Trainer(config(text_file, tmp_path, max_steps=10)).run()
    before = {name: (tmp_path / name).read_bytes() for name in ("latest.npz", "best.npz")}
    # An absurd learning rate without clipping: the weights overflow to inf.
    trainer = resume(tmp_path, optimizer="sgd", learning_rate=1e38, grad_clip=0.0,
                     max_steps=40)
    with pytest.raises(Diverged) as info:
        trainer.run()
    message = str(info.value)
    step = int(message.split("diverged at step ")[1].split()[0])
    assert 10 < step <= 40 and "\n" not in message
    assert "latest.npz (step 10)" in message
    for name, data in before.items():
        assert (tmp_path / name).read_bytes() == data


def test_divergence_names_the_step(tmp_path, text_file, monkeypatch):
    real = tinyrnn.cross_entropy
    calls = []

    def nan_at_third(logits, targets, **kw):
        calls.append(1)
        loss = real(logits, targets, **kw)
        return loss * math.nan if len(calls) == 3 else loss

    monkeypatch.setattr(tinyrnn, "cross_entropy", nan_at_third)
    with pytest.raises(Diverged, match="diverged at step 3 .*the loss is nan.*no checkpoint"):
        Trainer(config(text_file, tmp_path, max_steps=10)).run()
    assert not (tmp_path / "latest.npz").exists()


def test_an_interrupted_checkpoint_write_leaves_the_previous_one(tmp_path, text_file,
                                                                 monkeypatch):
    ck = tmp_path / "ck"
    Trainer(config(text_file, ck, max_steps=5)).run()
    before = (ck / "latest.npz").read_bytes()
    real = np.lib.format.write_array
    written = []

    def crash_midway(*args, **kwargs):     # Ctrl-C in the middle of the next save
        written.append(1)
        if len(written) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_midway)
    trainer = resume(ck, max_steps=10)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert trainer.step == 10 and len(written) == 3
    monkeypatch.undo()
    assert (ck / "latest.npz").read_bytes() == before
    arrays, meta = read_checkpoint(str(ck))
    assert meta["step"] == 5
    assert sorted(os.listdir(ck)) == [".lock", "best.npz", "latest.npz", "log.csv",
                                      "loss.png"]
    assert resume(ck, max_steps=10).run() == 0


def test_ctrl_c_stops_after_the_step_and_saves(tmp_path, text_file, monkeypatch):
    real = Trainer.train_step

    def step_then_ctrl_c(self, inputs, targets):
        loss = real(self, inputs, targets)
        if self.step == 2:                  # the 3rd step is running
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    monkeypatch.setattr(Trainer, "train_step", step_then_ctrl_c)
    trainer = Trainer(config(text_file, tmp_path, max_steps=20, eval_every=100))
    assert trainer.run() == 130
    assert read_checkpoint(str(tmp_path))[1]["step"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_log_csv_and_plot(tmp_path, text_file):
    Trainer(config(text_file, tmp_path, max_steps=12)).run()
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,train_loss,val_loss,learning_rate,chars_per_sec,time_s"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == list(range(1, 13))
    assert [int(r[0]) for r in rows if r[3]] == [5, 10, 12]     # every 5 and at the end
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_says_once_why_there_is_no_plot(tmp_path, text_file, monkeypatch):
    import tinyrnn.charlm.train.loop as loop_module
    monkeypatch.setattr(loop_module, "plot_losses", lambda *args, **kwargs: False)
    out = io.StringIO()
    Trainer(config(text_file, tmp_path, max_steps=12), out=out).run()
    assert out.getvalue().count("no loss.png: plotting needs matplotlib") == 1
    assert (tmp_path / "log.csv").exists() and not (tmp_path / "loss.png").exists()


def test_max_time_stops_and_saves(tmp_path, text_file):
    trainer = Trainer(config(text_file, tmp_path, max_steps=1000, max_time=1e-9))
    assert trainer.run() == 0 and trainer.step == 1
    assert read_checkpoint(str(tmp_path))[1]["step"] == 1


def test_refuses_to_start_over_another_run(tmp_path, text_file):
    Trainer(config(text_file, tmp_path, max_steps=2)).run()
    before = (tmp_path / "latest.npz").read_bytes()
    with pytest.raises(TrainError, match="already holds a run"):
        Trainer(config(text_file, tmp_path, max_steps=2))
    assert (tmp_path / "latest.npz").read_bytes() == before
    Trainer(config(text_file, tmp_path, max_steps=3, overwrite=True)).run()
    assert read_checkpoint(str(tmp_path))[1]["step"] == 3


def test_options_left_out_come_from_the_checkpoint(tmp_path, text_file):
    Trainer(config(text_file, tmp_path, max_steps=2, model="gru", rnn_size=6)).run()
    cfg, _ = resolve_config({"init_from": str(tmp_path), "max_steps": 4})
    assert (cfg.model, cfg.rnn_size, cfg.max_steps, cfg.data) == ("gru", 6, 4, text_file)
    with pytest.raises(TrainError, match="another model: --model lstm"):
        resolve_config({"init_from": str(tmp_path), "model": "lstm"})


def test_too_short_texts(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("abcdefghij" * 4, encoding="utf-8")
    with pytest.raises(TrainError, match="too short: its training part"):
        prepare_data(TrainConfig(data=str(path), batch_size=4, seq_length=16))
    with pytest.raises(TrainError, match="too short for validation"):
        prepare_data(TrainConfig(data=str(path), batch_size=2, seq_length=8))
    data = prepare_data(TrainConfig(data=str(path), batch_size=2, seq_length=8, val_frac=0))
    assert data.val is None


def test_training_needs_one_batch_of_seq_length_plus_one_per_stream(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcdefghij" * 10, encoding="utf-8")            # 100 characters
    cfg = dict(data=str(path), seq_length=8, val_frac=0)
    assert prepare_data(TrainConfig(**cfg, batch_size=10, train_frac=0.9)).train.size == 90
    with pytest.raises(TrainError, match="too short: its training part \\(89 chars"):
        prepare_data(TrainConfig(**cfg, batch_size=10, train_frac=0.89))


def test_validation_needs_seq_length_plus_one_characters(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcdefghij" * 10, encoding="utf-8")            # 100 characters
    cfg = dict(data=str(path), batch_size=2, seq_length=8)
    data = prepare_data(TrainConfig(**cfg, train_frac=0.91, val_frac=0.09))   # 9 = T + 1
    assert data.val.size == 9
    with pytest.raises(TrainError, match="too short for validation.*needs at least "
                                         "--seq-length 8 \\+ 1"):
        prepare_data(TrainConfig(**cfg, train_frac=0.92, val_frac=0.08))     # 8
    # 16 = 2 T characters make one validation stream of T + 1 (two would need 18)
    assert prepare_data(TrainConfig(**cfg, train_frac=0.84, val_frac=0.16)).val.shape == (16, 1)


def test_progress_bar_on_a_terminal_unless_tqdm_disable(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert _progress_bar(5, 0) is None                       # hidden
    monkeypatch.delenv("TQDM_DISABLE")
    bar = _progress_bar(5, 0)
    assert bar is not None and not bar.disable
    bar.update(1)
    bar.set_postfix_str("loss 1.000")
    bar.close()
    assert "1/5" in sys.stderr.getvalue() and "loss 1.000" in sys.stderr.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())       # not a terminal: hidden
    assert _progress_bar(5, 0) is None


def test_learning_rate_decays_like_char_rnn(tmp_path, text_file):
    """--lr-decay-after 2: the first two epochs at the initial rate, then x0.5 at
    the end of every epoch (char-rnn's learning_rate_decay_after)."""
    cfg = config(text_file, tmp_path, model="rnn", num_layers=1, learning_rate=0.01,
                 lr_decay=0.5, lr_decay_after=2, eval_every=1000, sample_length=0)
    n = num_bptt_batches(prepare_data(cfg).train, cfg.seq_length)     # steps per epoch
    cfg.max_steps = 4 * n
    trainer = Trainer(cfg)
    trainer.run()
    lrs = trainer.history["learning_rate"]
    assert lrs[:2 * n] == [0.01] * (2 * n)
    assert lrs[2 * n:3 * n] == [0.005] * n and lrs[3 * n:] == [0.0025] * n


def test_the_text_is_held_once_as_compact_ids(text_file):
    data = prepare_data(TrainConfig(data=text_file, batch_size=4, seq_length=8))
    assert data.train.dtype == data.val.dtype == np.uint8       # 1 byte per character
    ids = data.train.base                                       # streams are views ...
    assert ids is data.val.base and ids.nbytes == data.num_chars   # ... of one array
    bounded = prepare_data(TrainConfig(data=text_file, batch_size=4, seq_length=8,
                                       val_max_chars=30))
    assert bounded.val.size <= 30 < data.val.size
    # the first --val-max-chars characters of the same validation text
    assert np.array_equal(bounded.val.T.ravel(), data.val.T.ravel()[:bounded.val.size])
    with pytest.raises(TrainError, match="--val-max-chars must be >= 1, got 0"):
        Trainer(TrainConfig(data=text_file, val_max_chars=0))


def test_carried_state_beyond_what_the_model_needs_is_refused(tmp_path, text_file):
    """state/* may hold at most one float64 (B, H, H) + (B, H) per layer and state
    tensor: one element more than that bound is refused before anything is read."""
    folder = tmp_path / "ck"
    Trainer(config(text_file, folder, max_steps=2, eval_every=2)).run()
    arrays, meta = snapshot(folder)
    L, H = meta["model"]["num_layers"], meta["model"]["hidden_size"]
    bound = 4 * L * meta["train"]["batch_size"] * (H * H + H)      # float64 elements
    for key in [k for k in arrays if k.startswith("state/")]:
        del arrays[key]
    for elements, refused in ((bound, False), (bound + 1, True)):
        checkpoint.save(tmp_path / "s.npz", {**arrays, "state/0": np.zeros(elements)}, meta)
        if refused:
            with pytest.raises(ModelFileError, match=r"state/\* arrays declare"):
                read_checkpoint(str(tmp_path / "s.npz"), resumable=True)
        else:
            read_checkpoint(str(tmp_path / "s.npz"), resumable=True)   # within the bound


@pytest.mark.parametrize("claim", [{"hidden_size": 16_000},   # 16 GB of LSTM weights
                                   {"vocab_size": 60_000, "embedding_dim": 1}])
# (both within the metadata schema's ranges, so the size check itself must refuse them)
def test_a_config_claiming_a_huge_model_is_refused_before_building_it(tmp_path, text_file,
                                                                     claim):
    folder = tmp_path / "ck"
    Trainer(config(text_file, folder, max_steps=2, eval_every=2)).run()
    arrays, meta = snapshot(folder)
    meta["model"].update(claim)
    checkpoint.save(tmp_path / "huge.npz", arrays, meta)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"is inconsistent: its config describes at "
                                             r"least [\d,]+ bytes of parameters, but it "
                                             r"stores [\d,]+"):
            read_checkpoint(str(tmp_path / "huge.npz"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
