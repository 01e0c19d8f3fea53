"""Compatibility: the training run now lives in :mod:`tinyrnn.run`.

``from tinyrnn.train import TrainConfig, Trainer, load_model`` keeps working
for scripts written against the first release; new code imports from
``tinyrnn.run``.
"""
from .run.config import TrainConfig, resolve_config
from .run.console import Diverged, TrainError
from .run.loop import Trainer
from .run.store import load_model, read_checkpoint

__all__ = ["TrainConfig", "Trainer", "load_model", "read_checkpoint", "resolve_config",
           "TrainError", "Diverged"]
