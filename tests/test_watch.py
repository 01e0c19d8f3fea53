"""Watching a run: per-layer gradient norms and update ratios in log.csv, samples
every N steps in samples.txt, and the report page drawn from them."""
from __future__ import annotations

import csv
import math
import shutil
import subprocess

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import optim
from tinyrnn.charlm import CharLM
from tinyrnn.charlm.cli import main
from tinyrnn.charlm.options import TrainConfig
from tinyrnn.charlm.report import read_samples
from tinyrnn.charlm.train import Trainer
from tinyrnn.charlm.train.watch import LayerStats, layer_groups

TEXT = "the cat sat on the mat; the dog sat on the log.\n" * 60


def test_update_ratio_is_the_step_over_the_weights_per_layer():
    """With SGD a step is -lr * g, so the ratio is lr * ||g|| / ||w|| exactly."""
    tr.manual_seed(0)
    model = CharLM(7, hidden_size=6, num_layers=2, cell="gru")
    groups = layer_groups(model)
    assert list(groups) == ["layer0", "layer1", "decoder"]   # the one-hot table is fixed
    logits, _ = model(np.arange(14).reshape(7, 2) % 7)
    tr.cross_entropy(logits, tr.tensor(np.ones((7, 2), dtype=np.int64))).backward()
    g = {k: math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in ps))
         for k, ps in groups.items()}
    w = {k: math.sqrt(sum(float((p.numpy() ** 2).sum()) for p in ps))
         for k, ps in groups.items()}
    stats = LayerStats(groups)
    stats.before()
    optim.SGD(model.parameters(), lr=0.1).step()
    row = stats.after()
    for k in groups:
        assert row[f"grad_norm:{k}"] == pytest.approx(g[k], rel=1e-6)
        assert row[f"update_ratio:{k}"] == pytest.approx(0.1 * g[k] / w[k], rel=1e-4)


def config(tmp_path, **kw) -> TrainConfig:
    data = tmp_path / "text.txt"
    data.write_text(TEXT)
    base = dict(data=str(data), rnn_size=12, num_layers=2, seq_length=10, batch_size=4,
                max_steps=12, eval_every=6, sample_length=15, threads="1",
                checkpoint_dir=str(tmp_path / "run"))
    return TrainConfig(**{**base, **kw})


def read_log(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_logs_layers_every_n_steps_and_samples_every_m(tmp_path):
    cfg = config(tmp_path, layer_stats_every=4, sample_every=5)
    Trainer(cfg).run()
    rows = read_log(tmp_path / "run" / "log.csv")
    measured = [int(r["step"]) for r in rows if r["update_ratio:layer1"]]
    assert measured == [4, 8, 12]
    for r in rows:
        if r["update_ratio:layer0"]:
            assert 0 < float(r["update_ratio:layer0"]) < 1 and float(r["grad_norm:decoder"]) > 0
    samples = read_samples(str(tmp_path / "run" / "samples.txt"))
    assert [s[0] for s in samples] == [5, 10]
    assert all(len(text) == 15 for _, _, text in samples)
    # resumed: the columns go on, the earlier values are kept
    Trainer(*_resume(tmp_path, max_steps=16)).run()
    rows = read_log(tmp_path / "run" / "log.csv")
    assert [int(r["step"]) for r in rows if r["update_ratio:layer1"]] == [4, 8, 12, 16]
    assert [s[0] for s in read_samples(str(tmp_path / "run" / "samples.txt"))] == [5, 10, 15]


def _resume(tmp_path, **given):
    from tinyrnn.charlm.options import resolve_config
    return resolve_config({"init_from": str(tmp_path / "run" / "latest.npz"), **given})


def test_without_layer_stats_nothing_is_measured(tmp_path, monkeypatch):
    def refuse(self):
        raise AssertionError("measured on a step that is not logged")
    monkeypatch.setattr(LayerStats, "before", refuse)
    Trainer(config(tmp_path, layer_stats_every=0, max_steps=6)).run()
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert "update_ratio" not in header and not (tmp_path / "run" / "samples.txt").exists()


def test_report_draws_the_page_with_the_samples_in_order(tmp_path, capsys):
    Trainer(config(tmp_path, layer_stats_every=2, sample_every=4)).run()
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep")]) == 0
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert (tmp_path / "rep" / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert "<script" not in page and "http" not in page
    assert "data:image/png;base64," in page
    assert page.index("step 4 (epoch") < page.index("step 8 (epoch")
    capsys.readouterr()
    assert main(["report", str(tmp_path)]) == 1          # a folder without log.csv
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "log.csv' does not exist" in err


def test_progress_line_shows_the_latest_sample_on_request(tmp_path, capsys):
    import io
    out = io.StringIO()
    trainer = Trainer(config(tmp_path, sample_every=3, show_sample=True, max_steps=6),
                      out=out)
    trainer.run()
    assert trainer.console.latest_sample and len(trainer.console.latest_sample) == 15
    assert trainer.console._sample().startswith(", sample: ")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_the_report_renders_in_a_real_browser(tmp_path):
    Trainer(config(tmp_path, layer_stats_every=2, sample_every=4)).run()
    main(["report", str(tmp_path / "run")])
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=1000,700",
                    (tmp_path / "run" / "report.html").as_uri()], capture_output=True,
                   timeout=120)
    from matplotlib.image import imread
    pixels = imread(shot)[..., :3]
    assert (pixels.std(axis=2) > 0.1).mean() > 0.002     # coloured curves drawn, not blank
