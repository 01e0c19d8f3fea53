"""What a training run promises its user, checked where it happens.

- ``--grad-clip`` is applied: the gradient the optimizer's update reads has a
  global L2 norm of at most the threshold, and without clipping it would not.
- A saved run samples as it trained: the model loaded from its checkpoint by
  ``tinyrnn sample`` writes the training run's own argmax text, and its
  vocabulary encodes the text to the ids the run trained on.
"""
import io
import math
import re

import numpy as np
import pytest

import tinyrnn
from tinyrnn import optim
from tinyrnn.charlm import CharLM, CharVocab, default_corpus, sample, save_model
from tinyrnn.charlm.cli import main
from tinyrnn.charlm.options import TrainConfig
from tinyrnn.charlm.errors import Diverged, ModelFileError
from tinyrnn.charlm.store import build_model, load_model, read_checkpoint
from tinyrnn.charlm.train.corpus import prepare_data
from tinyrnn.charlm.train.loop import Trainer

TEXT = "hello world, hello tinyrnn!\n" * 60
TINY = dict(rnn_size=16, num_layers=1, batch_size=4, seq_length=16, eval_every=30,
            sample_length=0, seed=5)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def global_norm(params) -> float:
    return math.sqrt(sum(float(np.sum(p.grad.numpy().astype(np.float64) ** 2))
                         for p in params if p.grad is not None))


def norms_seen_by_the_update(monkeypatch, argv) -> list[float]:
    """Run ``tinyrnn train`` with ``argv``; the gradient norm at each optimizer step."""
    seen = []
    real = optim.Optimizer.step          # SGD inherits it

    def spy(self):
        seen.append(global_norm(self.params))
        return real(self)
    monkeypatch.setattr(optim.SGD, "step", spy)
    assert main(["train", *argv]) == 0
    return seen


@pytest.mark.parametrize("clip", [1e-3, 0.05])
def test_grad_clip_bounds_the_gradient_the_update_reads(tmp_path, text_file, monkeypatch,
                                                        clip):
    argv = [text_file, "--rnn-size", "8", "--num-layers", "1", "--batch-size", "4",
            "--seq-length", "8", "--max-steps", "6", "--eval-every", "6",
            "--sample-length", "0", "--optimizer", "sgd", "--learning-rate", "0.1"]
    free = norms_seen_by_the_update(monkeypatch, [*argv, "--grad-clip", "0",
                                                  "--checkpoint-dir", str(tmp_path / "a")])
    clipped = norms_seen_by_the_update(monkeypatch, [*argv, "--grad-clip", str(clip),
                                                     "--checkpoint-dir", str(tmp_path / "b")])
    assert len(free) == len(clipped) == 6
    assert min(free) > 2 * clip                      # so clipping had work to do
    assert max(clipped) <= clip * (1 + 1e-5), (clip, clipped)
    assert min(clipped) >= clip * (1 - 1e-5)         # rescaled to the threshold, not below


def test_a_loaded_checkpoint_samples_and_encodes_as_the_training_run(tmp_path, text_file,
                                                                    capsys):
    folder = tmp_path / "run"
    trainer = Trainer(TrainConfig(data=text_file, learning_rate=1e-2, max_steps=60,
                                  checkpoint_dir=str(folder), **TINY))
    assert trainer.run() == 0
    assert trainer.history["train_loss"][-1] < 1.0          # it learned the text
    prime = "hello world"
    trained = sample(trainer.model, trainer.vocab, prime=prime, length=40, argmax=True)
    capsys.readouterr()

    assert main(["sample", str(folder / "latest.npz"), "--prime", prime, "--length", "40",
                 "--argmax"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == trained.rstrip("\n")
    assert trained.count(" ") >= 2 and "\n" in trained      # uses ids 0 ('\n') and 1 (' ')

    model, vocab, _ = load_model(str(folder / "latest.npz"))
    assert vocab.chars == trainer.vocab.chars
    rows = len(trainer.data.train)
    np.testing.assert_array_equal(vocab.encode(TEXT[:rows]), trainer.data.train[:, 0])
    assert vocab.decode(trainer.data.train[:, 1]) == TEXT[rows:2 * rows]
    assert sample(model, vocab, prime=prime, length=40, argmax=True) == trained


def test_save_model_writes_what_load_model_rebuilds(tmp_path):
    """The sampling checkpoint (``save_model``): the same weights, vocabulary and
    config come back, with the extra metadata beside them."""
    vocab = CharVocab("hello world")
    model = CharLM(len(vocab), hidden_size=6, num_layers=2, cell="gru")
    save_model(tmp_path / "m.npz", model, vocab, val_nll=1.5)
    loaded, loaded_vocab, meta = load_model(str(tmp_path / "m.npz"))
    assert loaded_vocab == vocab and meta["val_nll"] == 1.5
    assert meta["kind"] == "tinyrnn.charlm" and meta["model"] == model.config()
    for (name, p), (name_, q) in zip(model.named_parameters(), loaded.named_parameters()):
        assert name == name_ and np.array_equal(p.numpy(), q.numpy()), name


def test_a_model_can_be_rebuilt_with_another_dropout(tmp_path):
    """Fine-tuning may change the dropout: the rebuilt model has the one asked for,
    the same weights, and the stored one when none is asked for."""
    vocab = CharVocab("abc")
    save_model(tmp_path / "m.npz", CharLM(3, 4, 1, dropout=0.1), vocab)
    arrays, meta = read_checkpoint(str(tmp_path / "m.npz"))
    again, _ = build_model(arrays, meta, dropout=0.25)
    assert again.config()["dropout"] == 0.25
    assert build_model(arrays, meta)[0].config()["dropout"] == 0.1
    assert all(np.array_equal(again.state_dict()[k], arrays[f"param/{k}"])
               for k in again.state_dict())


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_model_with_more_hidden_units_than_characters_loads(tmp_path, cell):
    """The size check's least parameter bytes, 4 (L H^2 + V H), is a lower bound for
    every model: here H = 16 units over V = 2 characters."""
    save_model(tmp_path / "m.npz", CharLM(2, 16, 1, cell=cell), CharVocab("ab"))
    model, vocab, _ = load_model(str(tmp_path / "m.npz"))
    assert model.config()["hidden_size"] == 16 and vocab == CharVocab("ab")


def test_a_model_loads_onto_the_backend_asked_for(tmp_path):
    pytest.importorskip("array_api_strict")
    save_model(tmp_path / "m.npz", CharLM(3, 4, 1), CharVocab("abc"))
    for name in ("numpy", "strict"):
        model, _, _ = load_model(str(tmp_path / "m.npz"), backend=name)
        assert {p.backend.name for p in model.parameters()} == {name}


def test_a_run_without_validation_resumes_with_no_best_yet(tmp_path, text_file):
    from tinyrnn.charlm.options import resolve_config
    run = str(tmp_path / "run")
    Trainer(TrainConfig(data=text_file, max_steps=2, val_frac=0, checkpoint_dir=run,
                        **TINY)).run()
    trainer = Trainer(*resolve_config({"init_from": run, "max_steps": 4}))
    assert trainer.step == 2 and trainer.best_val == math.inf
    trainer.run()
    assert trainer.step == 4


def test_save_model_refuses_metadata_no_load_would_accept(tmp_path):
    """An unknown field is refused when saving, naming it, and nothing is written."""
    from tinyrnn.charlm.schema import MetaError
    vocab = CharVocab("hello")
    with pytest.raises(MetaError, match="'val_loss' is unknown"):
        save_model(tmp_path / "m.npz", CharLM(len(vocab), 4, 1), vocab, val_loss=1.5)
    assert not (tmp_path / "m.npz").exists()


def test_the_default_corpus_is_described_and_has_no_path():
    """Training on the default corpus: a description that says so, and no file path
    in the run's data record (a resumed run must not look for a file)."""
    data = prepare_data(TrainConfig(max_chars=3000, batch_size=2, seq_length=8))
    assert "default corpus" in data.description and data.source["path"] is None
    assert data.source["chars"] == data.num_chars == 3000


def test_the_default_corpus_streams_spell_the_corpus():
    """The training streams read back, column by column, as the corpus's first
    characters: the ids are the vocabulary's, in order, for the default corpus as
    for a file."""
    data = prepare_data(TrainConfig(max_chars=3000, batch_size=2, seq_length=8))
    text = default_corpus(3000)
    streams = data.train.T                                   # (B, N): one piece each
    assert data.vocab.decode(streams.ravel()) == text[:streams.size]


class SlowClock:
    """A stand-in for the time module whose clock reads 10^6 s and advances 0.25 s a call."""

    def __init__(self):
        self.now = 1e6

    def perf_counter(self) -> float:
        self.now += 0.25
        return self.now


def test_each_report_shows_the_training_loss_of_its_own_step(tmp_path, text_file, capsys,
                                                            monkeypatch):
    from tinyrnn.charlm.train import loop
    monkeypatch.setattr(loop, "time", SlowClock())
    trainer = Trainer(TrainConfig(data=text_file, learning_rate=1e-2, max_steps=20,
                                  checkpoint_dir=str(tmp_path / "run"),
                                  **{**TINY, "eval_every": 10}))
    trainer.run()
    printed = re.findall(r"step (\d+) \(epoch \d+\): train loss (\d+\.\d+), "
                         r"validation loss \d+\.\d+ nats/char \((\d+\.\d) s\)",
                         capsys.readouterr().out)
    assert [int(step) for step, _, _ in printed] == [10, 20]
    history = dict(zip(trainer.history["step"], trainer.history["train_loss"]))
    for step, loss, seconds in printed:
        assert float(loss) == round(history[int(step)], 4)
        # a duration (two reads of the clock around the validation), not a clock reading
        assert float(seconds) == 0.2


def test_validation_loss_is_the_mean_nll_per_character(tmp_path, text_file):
    """Before any step the model guesses about uniformly: its validation loss is
    near ln V nats per character (V = 15 here); training brings it down."""
    trainer = Trainer(TrainConfig(data=text_file, learning_rate=1e-2, max_steps=30,
                                  checkpoint_dir=str(tmp_path / "run"), **TINY))
    V = len(trainer.vocab)
    assert abs(trainer.evaluate() - math.log(V)) < 0.2
    trainer.run()
    assert trainer.evaluate() < math.log(V) - 0.5
    # the same number read in one piece: every validation stream from its start,
    # the state carried across all its characters, the mean of -log p(next)
    streams = trainer.data.val.astype(np.int64)                       # (N, B)
    trainer.model.eval()
    with tinyrnn.no_grad():
        logits, _ = trainer.model(tinyrnn.tensor(streams[:-1]))
        nll = tinyrnn.cross_entropy(logits, tinyrnn.tensor(streams[1:]), reduction="none")
    assert trainer.evaluate() == pytest.approx(float(np.mean(nll.numpy())), rel=1e-5)


def test_validation_runs_without_dropout(tmp_path, text_file):
    trainer = Trainer(TrainConfig(data=text_file, dropout=0.5,
                                  checkpoint_dir=str(tmp_path / "run"),
                                  **{**TINY, "num_layers": 2}))
    assert trainer.evaluate() == trainer.evaluate()         # no random masks
    assert trainer.model.training                            # and training mode is back


def test_a_run_without_validation_says_why_it_has_no_best_model(tmp_path, text_file):
    folder = tmp_path / "run"
    Trainer(TrainConfig(data=text_file, max_steps=2, val_frac=0, checkpoint_dir=str(folder),
                        **TINY)).run()
    assert not (folder / "best.npz").exists()
    with pytest.raises(ModelFileError, match=r"trained with --val-frac 0 .*use .*latest\.npz"):
        read_checkpoint(str(folder / "best.npz"))
    with pytest.raises(ModelFileError, match="does not exist"):
        read_checkpoint(str(folder / "nothing.npz"))


def test_a_validation_loss_that_is_not_finite_stops_the_run_before_saving(tmp_path,
                                                                         text_file,
                                                                         monkeypatch):
    folder = tmp_path / "run"
    trainer = Trainer(TrainConfig(data=text_file, max_steps=10, checkpoint_dir=str(folder),
                                  **{**TINY, "eval_every": 5}))
    monkeypatch.setattr(trainer, "evaluate", lambda: math.inf)
    with pytest.raises(Diverged, match=r"diverged at step 5 .*the validation loss is inf"):
        trainer.run()
    assert not (folder / "latest.npz").exists() and not (folder / "best.npz").exists()


@pytest.mark.parametrize("length", [0, 1, 12])
def test_each_validation_prints_a_sample_of_sample_length(tmp_path, text_file, length):
    out = io.StringIO()
    Trainer(TrainConfig(data=text_file, max_steps=4, checkpoint_dir=str(tmp_path / "run"),
                        **{**TINY, "eval_every": 2, "sample_length": length}), out=out).run()
    samples = [line[len("  sample: "):] for line in out.getvalue().split("\n")
               if line.startswith("  sample: ")]
    assert len(samples) == (2 if length else 0), out.getvalue()
    assert all(len(s) <= length and set(s) <= set(TEXT) for s in samples)
    assert length == 0 or any(samples), samples          # a sample, not the label alone


def test_another_kind_of_checkpoint_is_refused_by_its_kind(tmp_path):
    """A valid tinyrnn checkpoint of something else, even one with a "model"
    entry of its own, is refused by name, before its arrays are judged."""
    from tinyrnn.utils import checkpoint
    path = tmp_path / "other.npz"
    checkpoint.save(path, {"param/w": np.zeros(3, np.float32)},
                    {"kind": "other", "model": {"vocab_size": 1, "hidden_size": 1}})
    with pytest.raises(ModelFileError, match=r"is not a tinyrnn char-LM checkpoint "
                                             r"\(kind 'other'\)"):
        read_checkpoint(str(path))
