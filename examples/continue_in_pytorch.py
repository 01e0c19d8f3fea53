"""Continue training a tinyrnn char model in PyTorch, on many processes, and come back.

    torchrun --nproc-per-node 4 examples/continue_in_pytorch.py checkpoints/best.npz \\
        my.txt --steps 2000 --out runs/torch
    python -m tinyrnn sample runs/torch/latest.npz        # back in tinyrnn
    python examples/continue_in_pytorch.py --smoke         # 2 processes, 100 steps

1. **Load.** A tinyrnn checkpoint (or a file of ``python -m tinyrnn export``)
   becomes ``TorchCharLM``: ``nn.Embedding -> nn.LSTM/GRU/RNN -> nn.Linear``
   named ``embedding``, ``rnn``, ``decoder``, loaded with ``strict=True``.
2. **Check.** The logits of one batch must agree with tinyrnn's (the largest
   absolute difference is printed: ~1e-6 in float32, ~1e-15 in float64).
3. **Train** with ``DistributedDataParallel``: the text is laid out as
   ``batch_size x N`` streams and process r trains on streams
   ``[r*B, (r+1)*B)``, carrying its own hidden state through truncated BPTT;
   DDP averages the gradients, so all N copies of the model stay equal.
   ``gloo`` on CPUs, ``nccl`` (one GPU per process) on GPUs.
4. **Come back.** Process 0 writes ``OUT/latest.npz`` (a tinyrnn checkpoint
   that ``sample``, ``train --finetune-from`` and ``tinyrnn.viz`` read) and
   ``OUT/model.safetensors``.

Run directly (not by torchrun), it starts ``--nproc`` processes itself.
Needs PyTorch (``pip install torch``) and safetensors for step 4.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys

import numpy as np

import tinyrnn
from tinyrnn.charlm.bridge import (BridgeError, charlm_state_dict, check_torch_cell,
                                   load_charlm, save_charlm, torch_state_dict,
                                   write_safetensors)
from tinyrnn.utils.checkpoint import CheckpointError
from tinyrnn.charlm import (CharVocab, DataError, batchify, bptt_batches, default_corpus,
                          load_text, split_ids)
from tinyrnn.charlm import CharLM
from tinyrnn.charlm.errors import ModelFileError, TrainError

EXPECTED = (BridgeError, CheckpointError, DataError, ModelFileError, TrainError)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="continue_in_pytorch.py", description="\n\n".join(__doc__.split("\n\n")[:2]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Steps: load, check the logits against tinyrnn's, train with "
               "DistributedDataParallel (each process its own streams), write OUT/latest.npz "
               "and OUT/model.safetensors from process 0.")
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help="a tinyrnn .npz checkpoint or an exported .safetensors file "
                        "(--smoke: a fresh tiny model when left out)")
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="UTF-8 text to train on (default: the Python standard library's "
                        "source, as `python -m tinyrnn train` uses)")
    p.add_argument("--max-chars", type=int, default=1_000_000,
                   help="use the first N characters of the text (default: %(default)s)")
    p.add_argument("--steps", type=int, default=200,
                   help="updates to make (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=50,
                   help="streams of text per process (default: %(default)s)")
    p.add_argument("--seq-length", type=int, default=50,
                   help="steps of backpropagation through time per chunk "
                        "(default: %(default)s)")
    p.add_argument("--learning-rate", type=float, default=2e-3,
                   help="Adam's step size (default: %(default)s)")
    p.add_argument("--grad-clip", type=float, default=5.0,
                   help="clip the global gradient norm to this, 0 for no clipping "
                        "(default: %(default)s)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="PyTorch's parameter dtype; latest.npz is float32 as tinyrnn trains "
                        "(default: %(default)s)")
    p.add_argument("--nproc", type=int, default=1,
                   help="processes to start when not launched by torchrun (under torchrun, "
                        "--nproc-per-node decides) (default: %(default)s)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="cuda: one GPU per process with nccl; cpu: gloo; auto: cuda when "
                        "available (default: %(default)s)")
    p.add_argument("--log-every", type=int, default=50,
                   help="print the loss averaged over all processes every N steps "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=123,
                   help="seed of the dropout masks (plus the rank) and of the smoke model "
                        "(default: %(default)s)")
    p.add_argument("--out", default="runs/continue_in_pytorch",
                   help="folder for latest.npz and model.safetensors (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT/latest.npz if it exists (default: refuse)")
    p.add_argument("--smoke", action="store_true",
                   help="a test run: 2 processes, 100 steps, 20,000 characters, on the CPU "
                        "unless --device cuda; without MODEL a fresh tiny model")
    args = p.parse_args(argv)
    if args.smoke:
        args.nproc, args.steps, args.batch_size, args.seq_length = 2, 100, 4, 16
        args.max_chars, args.log_every = min(args.max_chars, 20_000), 25
        args.device = "cpu" if args.device == "auto" else args.device
    elif args.model is None:
        p.error("MODEL is required (a .npz checkpoint or a .safetensors file)")
    for name in ("steps", "batch_size", "seq_length", "nproc", "log_every", "max_chars"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


# ---- the PyTorch twin of tinyrnn.charlm.CharLM -----------------------------------------
def torch_charlm(config: dict):
    """``nn.Embedding -> nn.RNN/LSTM/GRU -> nn.Linear`` for a CharLM ``config``.

    Its ``state_dict`` has CharLM's names and shapes. A one-hot model's
    embedding is the identity and is frozen, so that it stays one-hot. (The
    class is made here so that this file imports without PyTorch.)
    """
    import torch
    from torch import nn

    class TorchCharLM(nn.Module):
        def __init__(self):
            super().__init__()
            V, H, L = config["vocab_size"], config["hidden_size"], config["num_layers"]
            cell, p = config["cell"].lower(), config["dropout"]
            options = {"nonlinearity": config.get("nonlinearity", "tanh")} \
                if cell == "rnn" else {}
            self.embedding = nn.Embedding(V, config["embedding_dim"] or V)
            self.embedding.weight.requires_grad_(config["embedding_dim"] is not None)
            self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
                self.embedding.embedding_dim, H, num_layers=L, bias=config.get("bias", True),
                dropout=p if L > 1 else 0.0, **options)
            self.drop = nn.Dropout(p)             # before the decoder, as in CharLM
            self.decoder = nn.Linear(H, V)

        def forward(self, ids, state=None):
            """ids (T, B) int64 -> (logits (T, B, V), state)."""
            out, state = self.rnn(self.embedding(ids), state)
            return self.decoder(self.drop(out)), state

    return TorchCharLM()


def to_torch(model: CharLM, dtype: str):
    """A TorchCharLM holding ``model``'s weights (``strict=True``)."""
    import torch
    net = torch_charlm(model.config()).to(getattr(torch, dtype))
    net.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=dtype))
                         for k, v in torch_state_dict(model).items()}, strict=True)
    return net


def from_torch(net, config: dict) -> CharLM:
    """The tinyrnn CharLM holding a TorchCharLM's weights (float32)."""
    model = CharLM.from_config(config)
    model.load_state_dict(charlm_state_dict(
        {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}, config))
    return model.eval()


def max_logit_difference(model: CharLM, net, ids: np.ndarray, dtype: str) -> float:
    """max |tinyrnn's logits - PyTorch's| on ``ids`` (T, B), both in ``dtype``, eval mode."""
    import torch
    reference = CharLM.from_config(model.config())
    reference.load_state_dict(model.state_dict())
    reference.astype(dtype).eval()
    with tinyrnn.no_grad():
        ours = reference(tinyrnn.tensor(ids))[0].numpy()
    was_training = net.training
    net.eval()
    with torch.no_grad():
        device = next(net.parameters()).device
        theirs = net(torch.from_numpy(ids).to(device))[0].cpu().numpy()
    net.train(was_training)
    return float(np.max(np.abs(ours - theirs)))


# ---- data: one shard of the text streams per process --------------------------------
def text_streams(args, vocab, world: int) -> tuple[np.ndarray, np.ndarray]:
    """(training streams (N, B * world), validation ids) of the text, in the vocab's ids."""
    if args.data is None:
        text, where = default_corpus(args.max_chars), "the default corpus"
    else:
        text, where = load_text(args.data)[:args.max_chars], repr(args.data)
    ids = vocab.encode(text, what=f"the text of {where}, compared with the model's "
                                  "vocabulary,")
    train, val, _ = split_ids(ids, 0.95, 0.05)
    streams = args.batch_size * world
    if len(train) < streams * (args.seq_length + 1):
        raise TrainError(f"the training text ({len(train):,} chars) cannot fill "
                         f"{world} processes x --batch-size {args.batch_size} streams of "
                         f"--seq-length {args.seq_length} + 1")
    return batchify(train, streams, args.seq_length), val


def chunks(shard: np.ndarray, seq_length: int):
    """(inputs, targets) chunks of one shard forever; None marks each new epoch's start."""
    while True:
        yield None
        yield from bptt_batches(shard, seq_length)


# ---- one process ---------------------------------------------------------------------
def starting_model(args) -> tuple[CharLM, object]:
    """(model, vocab) to start from: MODEL, or with --smoke and no MODEL a fresh tiny one
    (the same in every process: seeded)."""
    if args.model is not None:
        return load_charlm(args.model)
    vocab = CharVocab(default_corpus(args.max_chars))
    tinyrnn.manual_seed(args.seed)
    return CharLM(len(vocab), hidden_size=16, num_layers=2, cell="lstm"), vocab


def prepare(args, world: int) -> None:
    """Refuse bad input in one line before any process starts training."""
    if os.path.exists(os.path.join(args.out, "latest.npz")) and not args.overwrite:
        raise TrainError(f"--out {args.out!r} already holds latest.npz; choose another "
                         "--out or pass --overwrite")
    model, vocab = starting_model(args)
    check_torch_cell(model.config(), f"MODEL {args.model!r}")
    text_streams(args, vocab, world)


def worker(rank: int, world: int, args) -> None:
    """Process ``rank`` of ``world``: load, check (rank 0), train, write (rank 0)."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    local = int(os.environ.get("LOCAL_RANK", rank))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    try:
        model, vocab = starting_model(args)
        streams, val = text_streams(args, vocab, world)
        shard = streams[:, rank * args.batch_size:(rank + 1) * args.batch_size]
        net = to_torch(model, args.dtype).to(device)
        if rank == 0:
            first = next(bptt_batches(shard, args.seq_length))[0].astype(np.int64)
            diff = max_logit_difference(model, net, first, args.dtype)
            print(f"{world} processes on {device.type} ({'nccl' if cuda else 'gloo'}); "
                  f"logits agree with tinyrnn's to {diff:.2e} ({args.dtype})", flush=True)
            if diff > (1e-4 if args.dtype == "float32" else 1e-10):
                raise TrainError(f"PyTorch's logits differ from tinyrnn's by {diff:.3g}")
        torch.manual_seed(args.seed + rank)          # each process its own dropout
        ddp = DistributedDataParallel(net, device_ids=[local] if cuda else None)
        train(ddp, shard, args, rank, device)
        if rank == 0:
            finish(net, model.config(), vocab, val, args, device)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def train(ddp, shard: np.ndarray, args, rank: int, device) -> None:
    """``args.steps`` updates on this process's streams; DDP keeps the copies equal."""
    import torch
    import torch.distributed as dist
    params = [p for p in ddp.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.learning_rate)
    state, seen, total = None, 0, torch.zeros(2, dtype=torch.float64, device=device)
    source = chunks(shard, args.seq_length)
    while seen < args.steps:
        batch = next(source)
        if batch is None:                   # a new epoch: the streams start over
            state = None
            continue
        inputs, targets = (torch.from_numpy(a.astype(np.int64)).to(device) for a in batch)
        logits, state = ddp(inputs, state)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()                     # DDP averages the gradients of all processes
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, args.grad_clip)
        optimizer.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) \
            else state.detach()             # truncated BPTT: the graph stops here
        seen += 1
        total += torch.tensor([loss.item(), 1.0], dtype=torch.float64, device=device)
        if seen % args.log_every == 0 or seen == args.steps:
            dist.all_reduce(total)          # the mean over every process's chunks
            if rank == 0:
                print(f"step {seen}: train loss {total[0] / total[1]:.4f} nats/char",
                      flush=True)
            total.zero_()


def finish(net, config: dict, vocab, val: np.ndarray, args, device) -> None:
    """Rank 0: validation loss, then the model back to tinyrnn (and safetensors)."""
    import torch
    model = from_torch(net, config)
    if len(val) > args.seq_length:
        ids = batchify(val, 1, args.seq_length).astype(np.int64)   # (N, 1): one long stream
        with torch.no_grad():
            net.eval()
            logits, _ = net(torch.from_numpy(ids[:-1]).to(device))
            loss = torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), torch.from_numpy(ids[1:]).to(device).flatten())
        print(f"validation loss {loss.item():.4f} nats/char", flush=True)
    path = os.path.join(args.out, "latest.npz")
    save_charlm(path, model, vocab)
    write_safetensors(os.path.join(args.out, "model.safetensors"), model, vocab)
    print(f"wrote {path} (python -m tinyrnn sample {path}) and model.safetensors",
          flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    args = parse_args(argv)
    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ      # by torchrun
    world = int(os.environ["WORLD_SIZE"]) if launched else args.nproc
    try:
        prepare(args, world)
        try:
            import torch.multiprocessing
        except ImportError:
            raise TrainError("this example needs PyTorch: pip install torch") from None
        gpus = torch.cuda.device_count()
        if args.device == "cuda" and world > gpus:
            raise TrainError(f"--device cuda runs one process per GPU: {world} processes, "
                             f"{gpus} GPUs")
        if launched:
            worker(int(os.environ["RANK"]), world, args)
        else:
            os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
            torch.multiprocessing.spawn(worker, args=(args.nproc, args), nprocs=args.nproc)
    except EXPECTED as e:
        print(f"continue_in_pytorch.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
