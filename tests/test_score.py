"""`score`: totals equal to one forward pass over the text, pieces and chunks that
change nothing, unknown characters named with their place, and the page."""
from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.charlm import CharLM, CharVocab, NGramModel, save_model
from tinyrnn.charlm.cli import main
from tinyrnn.charlm.score import ModelScorer, NGramScorer, score_file

VOCAB = CharVocab("ab(){}\n :=x")
TEXT = "x = (a)\nb = {a: (b)}\n" * 30


def tiny_model(seed: int = 0) -> CharLM:
    tr.manual_seed(seed)
    return CharLM(len(VOCAB), hidden_size=12, num_layers=2, cell="gru")


def one_forward_nll(model, text: str) -> np.ndarray:
    """-log p of characters 1.. given the ones before, from a single forward pass."""
    ids = VOCAB.encode(text)
    with tr.no_grad():
        logits, _ = model(ids[:-1].reshape(-1, 1))
    z = logits.numpy()[:, 0].astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(ids) - 1), ids[1:]]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("score")
    save_model(str(d / "a.npz"), tiny_model(0), VOCAB)
    save_model(str(d / "b.npz"), tiny_model(1), VOCAB)
    (d / "text.txt").write_text(TEXT, encoding="utf-8")
    return d


def test_pieces_and_chunks_give_the_loss_of_one_forward_pass():
    model = tiny_model()
    expected = one_forward_nll(model, TEXT)
    scorer = ModelScorer(model, VOCAB, chunk=7)          # chunks cut mid-piece
    cuts = [0, 1, 5, 50, 51, 300, len(TEXT)]            # pieces of 1, 4, 45, 1, ... chars
    got = np.concatenate([scorer.feed(VOCAB.encode(TEXT[a:b]))[0]
                          for a, b in zip(cuts, cuts[1:])])
    assert np.isnan(got[0])                             # nothing before the first character
    np.testing.assert_allclose(got[1:], expected, rtol=1e-5, atol=1e-6)


def test_score_file_totals_and_the_ngram_across_pieces(files):
    model = tiny_model()
    gram = NGramModel(3, len(VOCAB)).fit(VOCAB.encode(TEXT[:200]))
    result = score_file(files / "text.txt", [ModelScorer(model, VOCAB),
                                             NGramScorer(gram, VOCAB)], detail=100)
    expected = one_forward_nll(model, TEXT)
    assert result.scored == len(TEXT) - 1
    assert result.nats_per_char() == pytest.approx(expected.mean(), rel=1e-5)
    assert result.bits_per_char() == pytest.approx(expected.mean() / math.log(2), rel=1e-5)
    assert result.nats_per_char(1) == pytest.approx(gram.nll(VOCAB.encode(TEXT))[1:].mean())
    assert len(result.text) == 100 and result.guesses[0].shape == (100, 5)
    scorer = NGramScorer(gram, VOCAB)
    pieces = [scorer.feed(VOCAB.encode(TEXT[a:a + 13]))[0] for a in range(0, len(TEXT), 13)]
    np.testing.assert_allclose(np.concatenate(pieces), gram.nll(VOCAB.encode(TEXT)))


def test_top_guesses_are_the_most_probable_and_hold_the_right_probabilities():
    model = tiny_model()
    nll, ids, probs = ModelScorer(model, VOCAB).feed(VOCAB.encode(TEXT[:40]), guesses=5)
    assert np.all(np.diff(probs[1:], axis=1) <= 0) and np.all(probs[1:].sum(1) <= 1 + 1e-9)
    for t in range(1, 40):                 # the target's probability matches its guess slot
        hit = np.flatnonzero(ids[t] == VOCAB.index(TEXT[t]))
        if hit.size:
            assert probs[t, hit[0]] == pytest.approx(math.exp(-nll[t]))


def test_unknown_characters_are_named_with_their_place_and_can_be_skipped(files, tmp_path,
                                                                          capsys):
    path = tmp_path / "odd.txt"
    path.write_text("ab\nab\nxé:\n" + "a" * 10 + "Ω", encoding="utf-8")
    code = main(["score", str(files / "a.npz"), str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "'é' (first at character 7, line 3)" in err and "'Ω' (first at character 20, line 4)" in err
    assert "--skip-unknown" in err and not (tmp_path / "o").exists()     # nothing written
    assert main(["score", str(files / "a.npz"), str(path), "--skip-unknown"]) == 0
    assert "skipped 2 characters outside the vocabulary: 'é' x1, 'Ω' x1" in capsys.readouterr().out


def test_cli_writes_the_csv_page_and_png_and_compares_with_itself(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["score", str(files / "a.npz"), str(files / "text.txt"), "--compare",
                 str(files / "a.npz"), "--out", str(out), "--detail", "300",
                 "--png-chars", "80"]) == 0
    rows = (out / "losses.csv").read_text(encoding="utf-8").splitlines()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scored_chars"] == len(TEXT) - 1
    a, b = summary["models"].values()                  # the same model twice (chunked
    assert a == pytest.approx(b, rel=1e-7)              # apart differently: float32 rounding)
    page = (out / "score.html").read_text(encoding="utf-8")
    assert "<script" not in page and "http" not in page and page.count("data-g=") == 300
    assert "by kind of character" in page and (out / "score.png").read_bytes()[:4] == b"\x89PNG"
    assert rows[0].startswith("position,char,nats ") and len(rows) > len(TEXT) - 1


def test_compare_with_an_ngram_and_bad_options(files, tmp_path, capsys):
    args = ["score", str(files / "a.npz"), str(files / "text.txt")]
    assert main(args + ["--compare", "ngram:3", "--ngram-text", str(files / "text.txt")]) == 0
    assert "3-gram:" in capsys.readouterr().out
    for bad, named in ((["--compare", "ngram:3"], "records no training text"),
                       (["--compare", "ngram:x"], "--compare ngram:N needs an order"),
                       (["--ngram-text", "t"], "--ngram-text is the text an n-gram"),
                       (["--detail", "0"], "--detail must be >= 1")):
        assert main(args + bad) == 2
        assert named in capsys.readouterr().err


def test_nan_weights_are_named(tmp_path, capsys):
    model = tiny_model()
    model.decoder.bias.data[2] = np.inf
    save_model(str(tmp_path / "inf.npz"), model, VOCAB)
    (tmp_path / "t.txt").write_text(TEXT)
    assert main(["score", str(tmp_path / "inf.npz"), str(tmp_path / "t.txt")]) == 1
    err = capsys.readouterr().err          # refused when the checkpoint is read
    assert "'param/decoder.bias' holds NaN or infinite values" in err and err.count("\n") == 1


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_the_page_renders_in_a_real_browser(files, tmp_path):
    """Headless chromium draws the page: a screenshot that is not blank."""
    main(["score", str(files / "a.npz"), str(files / "text.txt"), "--out", str(tmp_path)])
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=900,600",
                    (tmp_path / "score.html").as_uri()], capture_output=True, timeout=120)
    from matplotlib.image import imread
    pixels = imread(shot)[..., :3]
    reddish = pixels[..., 0] - pixels[..., 1] > 0.15        # surprise colours, not white
    assert reddish.mean() > 0.01


def test_ctrl_c_says_what_losses_csv_holds(files, tmp_path, capsys, monkeypatch):
    from tinyrnn.charlm import score_cli

    def interrupted_after_one_piece(path, scorers, on_piece=None, **kw):
        on_piece("ab c", [np.array([np.nan, 1.0, 2.0, 3.0])])
        raise KeyboardInterrupt
    monkeypatch.setattr(score_cli, "score_file", interrupted_after_one_piece)
    out = tmp_path / "o"
    code = main(["score", str(files / "a.npz"), str(files / "text.txt"), "--out", str(out)])
    assert code == 130
    assert "holds the losses of the first 4 characters" in capsys.readouterr().err
    assert len((out / "losses.csv").read_text().splitlines()) == 1 + 3
