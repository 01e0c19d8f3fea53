"""``python -m tinyrnn export`` and ``python -m tinyrnn import``.

:func:`add_export_parser` and :func:`add_import_parser` add them to the
command line's sub-parsers (``tinyrnn.__main__`` registers both, with
:func:`run_export` and :func:`run_import`); a handler returns an exit status and raises BridgeError
(or the loader's error) with one line for anything wrong. Neither command
overwrites an existing file unless ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import os

from .convert import export_safetensors, import_safetensors
from .safetensors_file import INSTALL_HINT, BridgeError

__all__ = ["add_export_parser", "add_import_parser", "run_export", "run_import"]

LAYOUT = ("names: embedding.weight (V, E), rnn.weight_ih_l{k}, rnn.weight_hh_l{k}, "
          "rnn.bias_ih_l{k}, rnn.bias_hh_l{k}, decoder.weight (V, H), decoder.bias (V)")


def add_export_parser(sub) -> None:
    """``export`` on an argparse sub-parsers object."""
    p = sub.add_parser(
        "export", help="write a checkpoint's weights for PyTorch (safetensors)",
        description="Write the weights of a char-LM checkpoint (rnn, lstm or gru) under "
                    "PyTorch's names to a safetensors file, with the model's config and "
                    "vocabulary as metadata; it loads with strict=True into "
                    "nn.Embedding + nn.RNN/LSTM/GRU + nn.Linear modules named embedding, "
                    "rnn and decoder. Needs the safetensors package: " + INSTALL_HINT + ".",
        epilog=LAYOUT + ". A one-hot model's embedding.weight is the V x V identity.")
    p.set_defaults(command="export")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a .npz checkpoint of `python -m tinyrnn train` (or a directory: "
                        "its latest.npz)")
    p.add_argument("out", metavar="OUT.safetensors", help="the file to write")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT if it exists (default: refuse)")


def add_import_parser(sub) -> None:
    """``import`` on an argparse sub-parsers object."""
    p = sub.add_parser(
        "import", help="make a checkpoint from a safetensors file (e.g. from PyTorch)",
        description="Make a char-LM checkpoint that `python -m tinyrnn sample`, "
                    "`train --finetune-from` and tinyrnn.viz read, from a safetensors file "
                    "written by `export` or by PyTorch (safetensors.torch.save_file of a "
                    "model's state_dict). The cell and sizes are read from the shapes; "
                    "the header is checked before any weight is read.",
        epilog=LAYOUT + "; metadata: 'vocab' (the characters in id order, sorted) unless "
               "--vocab-from is given, optional 'config' (JSON, e.g. "
               '{"nonlinearity": "relu"}). Without embedding.weight the model is fed '
               "one-hot vectors.")
    p.set_defaults(command="import")
    p.add_argument("file", metavar="IN.safetensors", help="the file to read")
    p.add_argument("out", metavar="OUT.npz", help="the checkpoint to write")
    p.add_argument("--vocab-from", metavar="TEXT",
                   help="a UTF-8 text whose distinct characters, sorted, are the "
                        "vocabulary (the text the model learned from), for a file without "
                        "'vocab' metadata (default: the file's metadata)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT if it exists (default: refuse)")


def _refuse_existing(path: str, overwrite: bool, option: str) -> None:
    if os.path.isdir(path):
        raise BridgeError(f"{option} {path!r} is a directory, expected a file name")
    if os.path.exists(path) and not overwrite:
        raise BridgeError(f"{option} {path!r} exists; choose another name or pass --overwrite")


def run_export(args: argparse.Namespace) -> int:
    _refuse_existing(args.out, args.overwrite, "OUT")
    config = export_safetensors(args.checkpoint, args.out)
    print(f"wrote {args.out}: a {config['num_layers']}-layer {config['cell']} of "
          f"{config['hidden_size']} units over {config['vocab_size']} characters")
    return 0


def run_import(args: argparse.Namespace) -> int:
    _refuse_existing(args.out, args.overwrite, "OUT")
    config = import_safetensors(args.file, args.out, args.vocab_from)
    print(f"wrote {args.out}: a {config['num_layers']}-layer {config['cell']} of "
          f"{config['hidden_size']} units over {config['vocab_size']} characters")
    return 0
