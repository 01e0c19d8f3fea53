"""Unbounded numbers: a checkpoint's metadata and the command line, checked field by field.

Each refusal is one line naming the field (or flag), the value and what is
allowed; the valid values around each limit still load.
"""
from __future__ import annotations

import numpy as np
import pytest

from tinyrnn.charlm import CharLM, CharVocab
from tinyrnn.charlm.cli import main
from tinyrnn.charlm.errors import ModelFileError, TrainError
from tinyrnn.charlm.model import MAX_VOCAB, OneHot
from tinyrnn.charlm.options import TrainConfig, resolve_config
from tinyrnn.charlm.schema import MetaError, check_meta
from tinyrnn.charlm.store import history, read_checkpoint, save_model
from tinyrnn.charlm.train import Trainer
from tinyrnn.utils import checkpoint

from tiny_run import two_step_run


def small_text() -> str:
    return "the quick brown fox jumps over the lazy dog. " * 20


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A two-step training run's folder (its latest.npz is the one to tamper with)."""
    return two_step_run(tmp_path_factory.mktemp("run"), small_text())


def tampered(run_folder, tmp_path, change) -> str:
    """A copy of the run's latest.npz after ``change(arrays, meta)``; its path."""
    arrays, meta = checkpoint.load(run_folder / "latest.npz")
    change(arrays, meta)
    path = str(tmp_path / "latest.npz")
    checkpoint.save(path, arrays, meta)
    return path


def setter(*keys_and_value):
    *keys, value = keys_and_value

    def change(arrays, meta):
        target = meta
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


# ---- 3. the metadata schema ---------------------------------------------------------------
@pytest.mark.parametrize("keys_and_value, field", [
    (("step", -5), "step"), (("step", 10**30), "step"), (("step", 2.0), "step"),
    (("position", 10**30), "position"), (("epoch", "x"), "epoch"),
    (("model", "hidden_size", 16.0), "model.hidden_size"),
    (("model", "fused", "no"), "model.fused"),
    (("model", "bias", 1), "model.bias"),
    (("model", "dropout", float("nan")), "model.dropout"),
    (("model", "vocab_size", MAX_VOCAB + 1), "model.vocab_size"),
    (("surprise", 1), "surprise"),
    (("best_val", -1.0), "best_val"),
    (("data", "sha256", "../../etc"), "data.sha256"),
    (("rng_state", "state", "inc", -1), "rng_state"),
    (("state_structure", {"dict": [0]}), "state_structure"),
], ids=lambda v: str(v)[:30])
def test_every_field_has_a_type_and_a_range(run_folder, tmp_path, keys_and_value, field):
    path = tampered(run_folder, tmp_path, setter(*keys_and_value))
    with pytest.raises(ModelFileError) as caught:
        read_checkpoint(path, resumable=True)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert f"metadata field {field!r}" in message
    assert "expected" in message


def test_a_fast_weights_checkpoint_with_a_billion_inner_steps_is_refused(tmp_path):
    path = str(tmp_path / "fw.npz")
    save_model(path, CharLM(3, 4, 1, cell="fw"), CharVocab("abc"))
    arrays, meta = checkpoint.load(path)
    meta["model"]["inner_steps"] = 10**9
    checkpoint.save(path, arrays, meta)
    with pytest.raises(ModelFileError, match=r"metadata field 'model.inner_steps' is "
                                             r"1000000000; expected an integer in \[1, 100\]"):
        read_checkpoint(path)


def test_the_schema_accepts_what_training_writes(run_folder):
    arrays, meta = checkpoint.load(run_folder / "latest.npz")
    check_meta(meta, resumable=True)
    with pytest.raises(MetaError, match="'position' is .*more than the step"):
        check_meta({**meta, "position": meta["step"] + 1}, resumable=True)


@pytest.mark.parametrize("name, value, says", [
    ("learning_rate", "abc", "--learning-rate must be a number"),
    ("batch_size", 2.5, "--batch-size must be a whole number"),
    ("max_time", float("inf"), "--max-time must be a finite number"),
    ("no_fused", "no", "--no-fused must be true or false"),
    ("seed", -1, "--seed must be >= 0"),
    ("mystery", 1, "'train.mystery' is unknown"),
])
def test_stored_options_are_checked_by_the_options_table(run_folder, tmp_path, name,
                                                         value, says):
    path = tampered(run_folder, tmp_path, setter("train", name, value))
    for how in ("init_from", "finetune_from"):
        with pytest.raises(ModelFileError, match=f"checkpoint .*{says}"):
            resolve_config({how: path})


# ---- 5 and 6. what a resumed run carries ----------------------------------------------
def test_a_history_of_unequal_columns_is_refused_not_copied(run_folder, tmp_path):
    def shorten(arrays, meta):
        arrays["history/train_loss"] = arrays["history/train_loss"][:1]
    path = tampered(run_folder, tmp_path, shorten)
    with pytest.raises(TrainError, match=r"cannot be resumed: its history columns have "
                                         r"unequal lengths \(step 2, epoch 2, train_loss 1"):
        Trainer(*resolve_config({"init_from": path}))


def test_a_history_running_past_the_step_is_refused(run_folder, tmp_path):
    def extend(arrays, meta):
        arrays["history/step"] = np.array([1.0, 7.0])
    path = tampered(run_folder, tmp_path, extend)
    with pytest.raises(TrainError, match="step column is not increasing from 1 to at most"):
        Trainer(*resolve_config({"init_from": path}))


def test_a_run_saved_without_a_log_resumes_with_an_empty_one():
    columns = ("step", "epoch", "train_loss")
    assert history({}, columns, 5) == {k: [] for k in columns}
    with pytest.raises(ValueError, match="lacks the column"):
        history({"history/step": np.array([1.0])}, columns, 5)


@pytest.mark.parametrize("steps, holds", [
    ([], True), ([1], True), ([1, 2, 5], True), ([2, 3], True),
    ([1, 1, 2], False), ([1, 3, 2], False), ([0, 1], False), ([1, 6], False),
    ([1, float("nan")], False), ([1, 2, 3, 4, 5, 5.5], False),
], ids=str)
def test_the_log_steps_rise_from_1_to_at_most_the_checkpoint_step(steps, holds):
    """A log read at resume (checkpoint at step 5): one row per step made, rising."""
    columns = ("step", "epoch", "train_loss")
    arrays = {f"history/{k}": np.array(steps if k == "step" else [0.0] * len(steps))
              for k in columns}
    if holds:
        assert history(arrays, columns, 5)["step"] == [int(s) for s in steps]
    else:
        with pytest.raises(ValueError, match="step column is not increasing from 1 to at "
                                             "most the checkpoint's step 5"):
            history(arrays, columns, 5)


@pytest.mark.parametrize("array", [np.zeros((3, 4), np.float32), np.zeros((2, 4), np.int64)],
                         ids=["shape", "dtype"])
def test_a_carried_state_that_does_not_fit_is_one_line(run_folder, tmp_path, array, capsys):
    path = tampered(run_folder, tmp_path, lambda arrays, meta: arrays.update({"state/0": array}))
    assert main(["train", "--init-from", path]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "its carried state" in err[0], err


# ---- 3. command-line numbers ----------------------------------------------------------------
@pytest.mark.parametrize("flag, value, says", [
    ("--threads", "1000000", "--threads must be 'auto' or a whole number in [1, 1024]"),
    ("--learning-rate", "inf", "--learning-rate must be a finite number"),
    ("--learning-rate", "nan", "--learning-rate must be a finite number"),
    ("--max-time", "inf", "--max-time must be a finite number"),
    ("--seed", "-1", "--seed must be >= 0"),
    ("--rnn-size", "1000000000", "--rnn-size must be <= 16,384"),
    ("--num-layers", "100000", "--num-layers must be <= 64"),
    ("--checkpoint-dir", "", "--checkpoint-dir is empty; expected a path"),
])
def test_command_line_numbers_are_finite_and_in_range(tmp_path, flag, value, says, capsys):
    text = tmp_path / "t.txt"
    text.write_text(small_text(), encoding="utf-8")
    assert main(["train", str(text), flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"python -m tinyrnn train: error: {says}"), err
    assert value in err[0].replace("1e+09", "1000000000")


# ---- 4. many distinct characters --------------------------------------------------------------
def test_one_hot_input_never_builds_a_v_by_v_matrix():
    import tracemalloc
    V = 10_000
    tracemalloc.start()
    try:
        model = CharLM(V, 8, 1, cell="lstm")
        logits, _ = model(np.array([[1, 9_999], [42, 0]]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert logits.shape == (2, 2, V)
    assert isinstance(model.embedding, OneHot)
    assert model.num_parameters() == 4 * 8 * (V + 8 + 2) + V * 8 + V      # V x H, no V x V
    assert peak < V * V // 10, f"{peak:,} bytes: a V x V table was built"
    x = model.embedding(np.array([[3]]))
    assert x.shape == (1, 1, V) and x.numpy().sum() == 1 and x.numpy()[0, 0, 3] == 1


def test_a_chinese_text_trains_and_samples_chinese(tmp_path):
    """A text of 3,000 distinct CJK characters trains in seconds with a small model."""
    rng = np.random.default_rng(0)
    chars = [chr(0x4E00 + i) for i in range(3000)]
    text = "".join(rng.choice(chars, size=6000)) + "".join(chars)
    path = tmp_path / "zh.txt"
    path.write_text(text, encoding="utf-8")
    trainer = Trainer(TrainConfig(data=str(path), rnn_size=8, num_layers=1, batch_size=4,
                                  seq_length=16, max_steps=3, eval_every=3, val_frac=0.05,
                                  val_max_chars=100, sample_length=0, threads=1,
                                  checkpoint_dir=str(tmp_path / "ck")))
    assert len(trainer.vocab) == 3000
    assert trainer.run() == 0
    sample = trainer.sample_text(20)
    assert len(sample) == 20 and all("\u4e00" <= c <= "\u9fff" for c in sample)


def test_more_distinct_characters_than_a_model_may_predict_is_one_line(tmp_path, capsys):
    text = "".join(chr(0x10000 + i) for i in range(MAX_VOCAB + 1))    # no surrogates
    path = tmp_path / "wide.txt"
    path.write_text(text * 2, encoding="utf-8")
    assert main(["train", str(path), "--checkpoint-dir", str(tmp_path / "ck")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"has {MAX_VOCAB + 1:,} distinct characters, more than the " \
        f"{MAX_VOCAB:,} a model may predict" in err[0], err
