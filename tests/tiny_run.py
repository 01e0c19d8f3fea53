"""A training run small enough to make in a test's setup: its checkpoint is the
genuine article (every field and member a run writes) for tests to read or tamper with."""
from __future__ import annotations

from pathlib import Path

from tinyrnn.charlm.options import TrainConfig
from tinyrnn.charlm.train import Trainer


def two_step_run(root: Path, text: str, num_layers: int = 1) -> Path:
    """Train a 4-unit LSTM of ``num_layers`` for two steps on ``text`` (written to
    ``root/t.txt``), validating and saving at step 2; the run's folder."""
    data = root / "t.txt"
    data.write_text(text, encoding="utf-8")
    folder = root / "ck"
    Trainer(TrainConfig(data=str(data), rnn_size=4, num_layers=num_layers, batch_size=2,
                        seq_length=8, max_steps=2, eval_every=2, sample_length=0,
                        threads=1, checkpoint_dir=str(folder))).run()
    return folder
