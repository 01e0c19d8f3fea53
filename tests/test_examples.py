"""The research examples run end to end in smoke mode and write what they promise;
their helpers are checked against direct computations."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.charlm import CharLM, default_corpus, split_ids, store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


retrieval = load("associative_retrieval")
rwa_vs_lstm = load("rwa_vs_lstm")
compare = load("compare_cells")
cells = load("visualize_cells")


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG


# ---- associative retrieval ------------------------------------------------------------
def test_retrieval_smoke_trains_tests_and_plots(tmp_path, capsys):
    assert retrieval.main(["all", "--smoke", "--out", str(tmp_path), "--quiet"]) == 0
    for model in retrieval.MODELS:
        assert (tmp_path / f"{model}_R8.npz").exists()
    rows = json.loads((tmp_path / "results.json").read_text())
    assert sorted(r["model"] for r in rows) == sorted(retrieval.MODELS)
    assert all(0 <= r["test_acc"] <= 1 and r["steps"] == 3 for r in rows)
    table = (tmp_path / "results.md").read_text()
    assert table.startswith("| model | R = 8 |") and table.count("\n") == 2 + 5
    assert is_png(tmp_path / "retrieval_curves.png")
    # `test` scores the saved weights: reloading and evaluating gives the same accuracy
    net, meta = retrieval.load_net(str(tmp_path / "LSTM_R8.npz"))
    x, y = retrieval.make_data(meta["K"], 1, 64, meta["seed"])["test"]
    acc = retrieval.evaluate(net, x, y)[1]
    assert acc == next(r["test_acc"] for r in rows if r["model"] == "LSTM")


def test_retrieval_fast_weights_learn_to_look_up_the_key(tmp_path):
    """300 steps of RNN-LN-FW (R = 32) on K = 2 pairs answer the query's digit on
    500 test sequences far above chance (10%) and above the ~55% of a model that
    only learned to copy one of the two digits shown (or that of a wrong step:
    reading states[0] sees only the first key, ~10%). Seeds 0, 1, 2 gave 95.8%,
    90.8%, 91.0%: the bound 75% leaves 16 points below the worst of them and
    20 points above copying."""
    options = ["--models", "RNN-LN-FW", "--hidden", "32", "--K", "2", "--steps", "300",
               "--lr", "0.005", "--batch", "128", "--train-size", "20000",
               "--test-size", "500", "--val-size", "200", "--eval-every", "300",
               "--seed", "0", "--out", str(tmp_path), "--quiet"]
    assert retrieval.main(["train", *options]) == 0
    assert retrieval.main(["test", *options]) == 0
    [row] = json.loads((tmp_path / "results.json").read_text())
    assert row["model"] == "RNN-LN-FW" and row["K"] == 2 and row["steps"] == 300
    assert row["test_acc"] > 0.75, row


@pytest.mark.parametrize("model", retrieval.MODELS)
def test_retrieval_net_answers_from_the_last_step(model):
    """The answer reads the state after the query key: changing only the last
    character changes it, and it is the answer of the whole sequence, not of a prefix."""
    tr.manual_seed(0)
    net = retrieval.RetrievalNet(model, 6, embedding_dim=5, readout_size=32)
    x = np.random.default_rng(0).integers(0, 37, size=(11, 3))
    last_changed = x.copy()
    last_changed[-1] = (x[-1] + 1) % 37
    with tr.no_grad():
        answer = net(tr.tensor(x)).numpy()
        assert answer.shape == (3, 10)
        assert np.all(np.abs(net(tr.tensor(last_changed)).numpy() - answer).max(axis=1) > 1e-6)
        for prefix in (1, 10):
            assert np.all(np.abs(net(tr.tensor(x[:prefix])).numpy() - answer).max(axis=1) > 1e-6)


def test_retrieval_errors(tmp_path):
    with pytest.raises(SystemExit, match="no checkpoints"):
        retrieval.main(["test", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        retrieval.parse_args(["train", "--models", "IRNN"])


# ---- RWA against LSTM ------------------------------------------------------------------
def test_rwa_vs_lstm_smoke_writes_tables_and_figures(tmp_path):
    assert rwa_vs_lstm.main(["--smoke", "--out", str(tmp_path), "--quiet"]) == 0
    for label in ("adding_T8", "copy_T8", "char"):
        result = json.loads((tmp_path / f"results_{label}.json").read_text())
        assert set(result["results"]) == {"rwa", "lstm"}
        assert is_png(tmp_path / f"curves_{label}.png")
        assert is_png(tmp_path / f"rwa_weights_{label}.png")
        assert "| RWA |" in (tmp_path / f"results_{label}.md").read_text()


def test_rwa_learns_the_adding_problem(tmp_path):
    """150 steps of RWA on the adding problem (T = 10) bring the test MSE well
    under the 1/6 of always answering 1 (the sum's variance), which a model that
    learned nothing cannot. Seeds 0, 1, 2 gave 0.047, 0.009, 0.013: the bound
    0.1 leaves a margin of 2x over the worst of them and 1.7x under chance."""
    args = ["--task", "adding", "--models", "rwa", "--T", "10", "--hidden", "16",
            "--batch", "32", "--lr", "0.01", "--max-iters", "150", "--eval-every", "50",
            "--test-size", "200", "--seed", "0", "--out", str(tmp_path), "--quiet"]
    assert rwa_vs_lstm.main(args) == 0
    result = json.loads((tmp_path / "results_adding_T10.json").read_text())["results"]["rwa"]
    assert result["final_loss"] < 0.1, result["history"]["loss"]


def test_adding_loss_is_the_mean_squared_error():
    make, loss, kwargs = rwa_vs_lstm.task_setup("adding", 10, rwa_vs_lstm.parse_args([]))
    x, y = make(5, np.random.default_rng(0))
    assert x.shape == (10, 5, 2) and kwargs["last_only"]
    pred = tr.tensor(np.arange(5, dtype=np.float32).reshape(5, 1))
    assert loss(pred, y).item() == pytest.approx(np.mean((np.arange(5) - y) ** 2), rel=1e-6)


# ---- RNN / GRU / LSTM and n-grams ----------------------------------------------------------
def test_compare_cells_smoke(tmp_path):
    assert compare.main(["--smoke", "--out", str(tmp_path), "--quiet"]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    nets = [r for r in rows if r["layers"] != ""]
    assert len(nets) == 6 and len(rows) == 8                    # 3 cells x 2 depths, 2 n-grams
    budget = next(r["params"] for r in nets if r["model"] == "LSTM" and r["layers"] == 1)
    assert all(abs(r["params"] - budget) <= 0.1 * budget for r in nets)
    assert all(np.isfinite(r["val_nll"]) for r in rows)
    for name in ("table.md", "evidence.md"):
        assert "nats/char" in (tmp_path / name).read_text()
    for name in ("evidence.png", "gradient_norms.png", "saturation_lstm2.png",
                 "saturation_gru2.png"):
        assert is_png(tmp_path / name)


def test_compare_cells_nets_learn_and_ngrams_rank_by_order(tmp_path):
    """The smoke setting with 40 steps of 16 streams x 20 characters at learning rate
    0.02 brings each of the six nets' validation loss at least 1 nat under uniform
    guessing, log V = 4.51 nats/char for the V = 91 symbols: 3.51. Seeds 0, 1, 2
    gave at worst 3.18, 3.18, 3.15 (the LSTMs of 7 and 8 cells), a margin of 0.33
    under that bound. The best net (the 1-layer RNN: 2.72, 2.80, 2.85) also gets
    under 3.0, which knowing only the characters' frequencies does not (the unigram
    scores 3.14); the worst seed clears it by 0.15. The Kneser-Ney rows
    (deterministic: 2.18 and 1.24, over 2 nats under log V) improve with the order."""
    assert compare.main(["--smoke", "--steps", "40", "--batch", "16", "--seq-length", "20",
                         "--lr", "0.02", "--seed", "0", "--out", str(tmp_path),
                         "--quiet"]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    nets = {(r["model"], r["layers"]): r["val_nll"] for r in rows if r["layers"] != ""}
    grams = [r["val_nll"] for r in rows if r["layers"] == ""]
    V = len(compare.load_data(20_000)[0])
    assert len(nets) == 6 and all(r["steps"] == 40 for r in rows if r["layers"] != "")
    assert all(nll < np.log(V) - 1.0 for nll in nets.values()), nets
    assert min(nets.values()) < 3.0, nets
    assert len(grams) == 2 and grams[1] < grams[0] < np.log(V) - 2.0, grams


def test_matched_hidden_size_is_closest():
    V, budget = 30, 5000
    H = compare.matched_hidden_size("gru", 2, V, budget)

    def gap(h):
        return abs(compare.num_params(CharLM(V, h, 2, cell="gru")) - budget)
    assert gap(H) <= min(gap(H - 1), gap(H + 1))


def test_per_char_nll_equals_reading_each_piece_alone():
    model = CharLM(6, 4, 1, cell="lstm")
    ids = np.random.default_rng(1).integers(0, 6, size=41)
    nll = compare.per_char_nll(model, ids, streams=2, T=7)
    for b in range(2):
        piece = ids[b * 20:(b + 1) * 20]
        with tr.no_grad():
            logits, _ = model(tr.tensor(piece[:-1].reshape(-1, 1)))
            ref = tr.cross_entropy(logits, tr.tensor(piece[1:].reshape(-1, 1)),
                                   reduction="none").numpy()[:, 0]
        np.testing.assert_allclose(nll[b * 20 + 1:(b + 1) * 20], ref, rtol=1e-5)
        assert np.isnan(nll[b * 20])
    assert np.isnan(nll[40])                                      # the remainder


def test_bracket_distances_and_grouping():
    d = compare.bracket_distances("f(a[1], {b: (c)})")
    assert d[5] == 2 and d[14] == 2 and d[15] == 7 and d[16] == 15
    assert (np.delete(d, [5, 14, 15, 16]) == -1).all()
    assert compare.bracket_distances("x)")[1] == -1                # no opener
    rows = compare.grouped(np.array([1.0, 2.0, np.nan, 4.0]), np.array([1, 2, 2, 7]),
                           [(1, 3), (3, 10 ** 9)])
    assert rows == [("1-2", 2, 1.5), (">=3", 1, 4.0)]


# ---- interpretable cells ---------------------------------------------------------------------
def test_visualize_cells_trains_saves_and_reloads(tmp_path, capsys):
    ckpt = tmp_path / "model.npz"
    assert cells.main(["--smoke", "--out", str(tmp_path / "a"), "--save", str(ckpt)]) == 0
    pages = sorted(p.name for p in (tmp_path / "a").glob("*.html"))
    assert "index.html" in pages and len(pages) == 1 + 3           # top 1 per signal
    assert all(is_png(p) for p in (tmp_path / "a").glob("*.png"))
    first = capsys.readouterr().out
    assert cells.main(["--smoke", "--out", str(tmp_path / "b"), "--checkpoint",
                       str(ckpt)]) == 0
    second = capsys.readouterr().out
    ranked = [line for line in first.splitlines() if "unit" in line and "r =" in line]
    assert ranked and all(line in second for line in ranked)       # same model, same units


def test_visualize_cells_model_learns_the_corpus(tmp_path):
    """The smoke model trained for 200 steps at learning rate 0.02 predicts the
    validation split it colours text from (the 1,000 characters after the 95% it
    trained on) far better than uniform guessing over its V = 91 symbols (log V =
    4.51 nats/char) and than the characters' training frequencies alone (3.25).
    Seeds 0, 1, 2 gave 2.41, 2.38, 2.36: the bound 2.9 is 0.49 over the worst of
    them, 0.35 under the unigram and 1.6 under chance."""
    ckpt = tmp_path / "model.npz"
    assert cells.main(["--smoke", "--steps", "200", "--lr", "0.02", "--seed", "0",
                       "--out", str(tmp_path), "--save", str(ckpt), "--quiet"]) == 0
    model, vocab, _ = store.load_model(ckpt)
    _, val, _ = split_ids(vocab.encode(default_corpus(cells.SMOKE["chars"])), 0.95, 0.05)
    with tr.no_grad():
        logits, _ = model(tr.tensor(val[:-1, None]))
        nll = tr.cross_entropy(logits, tr.tensor(val[1:, None])).item()
    assert len(vocab) == 91 and len(val) == 1000
    assert nll < 2.9, nll
