"""The bridge to PyTorch: ``python -m tinyrnn export`` / ``import``, the safetensors
header checks (and a fuzz test of them), and the DDP example's smoke run.

The comparisons with PyTorch skip when torch is not installed, the file tests
when safetensors is not, each saying why."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinyrnn
from tinyrnn import viz
from tinyrnn.charlm.cli import build_parser, main
from tinyrnn.charlm.bridge import (BridgeError, load_charlm, model_from_safetensors, read_header,
                            save_charlm, torch_shapes, torch_state_dict)
from tinyrnn.charlm.bridge.convert import infer_config
from tinyrnn.charlm.bridge.safetensors_file import require_safetensors
from tinyrnn.charlm import CharLM, CharVocab, default_corpus

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "continue_in_pytorch.py"
TEXT = "".join(f"def f{i % 7}(x):\n    return x * {i % 5} + {i % 3}\n" for i in range(40))
TINY = ["--rnn-size", "8", "--num-layers", "2", "--batch-size", "4", "--seq-length", "8",
        "--eval-every", "3", "--sample-length", "0", "--seed", "3", "--max-steps", "3"]

try:
    import safetensors  # noqa: F401
    HAVE_SAFETENSORS = True
except ImportError:
    HAVE_SAFETENSORS = False
needs_safetensors = pytest.mark.skipif(not HAVE_SAFETENSORS, reason="writing the bridge's "
                                       "files needs safetensors (pip install '.[bridge]')")


def need_torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (it is only an "
                                               "oracle here)")


def one_line_error(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module", params=["lstm", "gru", "rnn"])
def trained(request, data, tmp_path_factory):
    """A checkpoint of 3 steps of `python -m tinyrnn train` with each PyTorch cell."""
    folder = tmp_path_factory.mktemp(f"run-{request.param}")
    assert main(["train", data, *TINY, "--model", request.param,
                 "--checkpoint-dir", str(folder)]) == 0
    return folder / "latest.npz"


def torch_model(torch, config: dict, one_hot_input: bool = False):
    """A PyTorch user's char model, written independently of the example."""
    V, E, H = config["vocab_size"], config["embedding_dim"] or config["vocab_size"], \
        config["hidden_size"]
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[config["cell"]]

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if not one_hot_input:
                self.embedding = torch.nn.Embedding(V, E)
            self.rnn = rnn(E, H, num_layers=config["num_layers"])
            self.decoder = torch.nn.Linear(H, V)

        def forward(self, ids):
            x = torch.nn.functional.one_hot(ids, V).to(self.decoder.weight.dtype) \
                if one_hot_input else self.embedding(ids)
            return self.decoder(self.rnn(x)[0])

    return Model()


def logits_both_ways(torch, model: CharLM, net, ids: np.ndarray):
    """(tinyrnn's, PyTorch's) logits of ``ids`` (T, B), both in float64."""
    model.double().eval()
    with tinyrnn.no_grad():
        ours = model(tinyrnn.tensor(ids))[0].numpy()
    with torch.no_grad():
        theirs = net.double().eval()(torch.from_numpy(ids)).numpy()
    return ours, theirs


# ---- names and shapes ----------------------------------------------------------------
@pytest.mark.parametrize("config", [
    dict(vocab_size=7, hidden_size=5, num_layers=2, cell="lstm"),
    dict(vocab_size=7, hidden_size=5, num_layers=1, cell="gru", embedding_dim=3),
    dict(vocab_size=7, hidden_size=5, num_layers=3, cell="rnn", nonlinearity="relu",
         bias=False),
])
def test_torch_shapes_are_the_charlms(config):
    model = CharLM(**config)
    assert torch_shapes(model.config()) == {k: v.shape
                                            for k, v in torch_state_dict(model).items()}


# ---- export: into PyTorch ----------------------------------------------------------------
@needs_safetensors
def test_export_loads_into_torch_strictly_with_the_same_logits(trained, tmp_path, capsys):
    torch = need_torch()
    from safetensors.torch import load_file
    out = tmp_path / "model.safetensors"
    assert main(["export", str(trained), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    model, vocab = load_charlm(str(trained))
    config = model.config()
    metadata = read_header(out)[0]
    assert metadata["vocab"] == vocab.chars and json.loads(metadata["config"]) == config
    net = torch_model(torch, config)
    net.load_state_dict(load_file(out), strict=True)
    ids = np.random.default_rng(0).integers(0, len(vocab), size=(13, 3))
    ours, theirs = logits_both_ways(torch, model, net, ids)
    assert np.max(np.abs(ours - theirs)) < 1e-12


@needs_safetensors
def test_round_trip_through_a_file_is_exact(trained, tmp_path, capsys):
    exported, back = tmp_path / "m.safetensors", tmp_path / "back.npz"
    assert main(["export", str(trained), str(exported)]) == 0
    assert main(["import", str(exported), str(back)]) == 0
    (m0, v0), (m1, v1) = load_charlm(str(trained)), load_charlm(str(back))
    assert v0 == v1 and m0.config() == m1.config()
    s0, s1 = m0.state_dict(), m1.state_dict()
    assert s0.keys() == s1.keys()
    for key in s0:
        assert s0[key].dtype == s1[key].dtype and np.array_equal(s0[key], s1[key]), key
    again = tmp_path / "again.safetensors"       # and the same file again (the order of
    assert main(["export", str(back), str(again)]) == 0     # the metadata keys may differ)
    assert read_header(again) == read_header(exported)
    assert data_part(again) == data_part(exported)


def data_part(path: Path) -> bytes:
    raw = path.read_bytes()
    return raw[8 + struct.unpack("<Q", raw[:8])[0]:]


@needs_safetensors
def test_an_embedding_model_round_trips(tmp_path):
    vocab = CharVocab(TEXT)
    model = CharLM(len(vocab), hidden_size=6, num_layers=1, cell="gru", embedding_dim=4)
    save_charlm(str(tmp_path / "a.npz"), model, vocab)
    assert main(["export", str(tmp_path / "a.npz"), str(tmp_path / "a.safetensors")]) == 0
    back, _ = model_from_safetensors(str(tmp_path / "a.safetensors"))
    assert back.config() == model.config()
    assert all(np.array_equal(back.state_dict()[k], v) for k, v in model.state_dict().items())


@needs_safetensors
@pytest.mark.parametrize("chars, hidden", [("a", 3), ("abc", 1)], ids=["V=1", "H=1"])
def test_the_smallest_models_round_trip(tmp_path, chars, hidden):
    """The smallest vocabulary (V = 1), or hidden size (H = 1), is a model like any other."""
    vocab = CharVocab(chars)
    model = CharLM(len(chars), hidden_size=hidden, num_layers=1, cell="rnn")
    save_charlm(str(tmp_path / "a.npz"), model, vocab)
    assert main(["export", str(tmp_path / "a.npz"), str(tmp_path / "a.safetensors")]) == 0
    back, back_vocab = model_from_safetensors(str(tmp_path / "a.safetensors"))
    assert back_vocab == vocab and back.config() == model.config()


# ---- import: from PyTorch --------------------------------------------------------------
@needs_safetensors
@pytest.mark.parametrize("cell,one_hot", [("lstm", False), ("gru", True), ("rnn", False)])
def test_a_torch_made_file_imports_samples_and_matches(cell, one_hot, data, tmp_path,
                                                       capsys):
    torch = need_torch()
    from safetensors.torch import save_file
    torch.manual_seed(0)
    vocab = CharVocab(TEXT)
    config = dict(vocab_size=len(vocab), hidden_size=7, num_layers=2, cell=cell,
                  embedding_dim=None if one_hot else 5)
    net = torch_model(torch, config, one_hot_input=one_hot)
    path = tmp_path / "torch.safetensors"
    # a PyTorch user adds the vocabulary, or gives --vocab-from the text
    save_file(net.state_dict(), str(path),
              metadata=None if one_hot else {"vocab": vocab.chars})
    out = tmp_path / "imported.npz"
    args = ["import", str(path), str(out)] + (["--vocab-from", data] if one_hot else [])
    assert main(args) == 0
    assert main(["sample", str(out), "--length", "40", "--prime", "def "]) == 0
    assert capsys.readouterr().out.count("def ") >= 1
    model, _ = load_charlm(str(out))
    assert model.config()["embedding_dim"] == config["embedding_dim"]
    ids = np.random.default_rng(1).integers(0, len(vocab), size=(11, 2))
    ours, theirs = logits_both_ways(torch, model, net, ids)
    assert np.max(np.abs(ours - theirs)) < 1e-12
    records = viz.trace(model.float(), tinyrnn.tensor(ids))     # tinyrnn.viz reads it
    assert len(records) == 2
    # and training continues from it in tinyrnn: from the checkpoint, or the file itself
    for start in (out,) if one_hot else (out, path):     # path alone has no vocabulary
        folder = tmp_path / f"more_{start.suffix[1:]}"
        assert main(["train", data, "--finetune-from", str(start), "--batch-size", "4",
                     "--seq-length", "8", "--max-steps", "2", "--sample-length", "0",
                     "--checkpoint-dir", str(folder)]) == 0
        assert (folder / "latest.npz").exists()
    assert main(["train", data, "--init-from", str(path)]) == 2      # no run to resume
    assert "use --finetune-from" in capsys.readouterr().err


# ---- refusals: one line each, nothing overwritten -----------------------------------------
def test_help_explains_every_option_with_its_default(capsys):
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("export", "import"):
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert "embedding.weight" in out and "decoder.weight" in out
        for action in commands[name]._actions:
            if action.dest != "help":
                assert action.help and (action.required or "default" in action.help)
                assert all(flag in out for flag in action.option_strings)


@needs_safetensors
def test_models_pytorch_lacks_are_refused(data, tmp_path, capsys):
    folder = tmp_path / "rwa"
    assert main(["train", data, *TINY, "--model", "rwa", "--checkpoint-dir", str(folder)]) == 0
    capsys.readouterr()
    code = main(["export", str(folder / "latest.npz"), str(tmp_path / "x.safetensors")])
    one_line_error(capsys, code, "rwa model", "rnn, lstm and gru")
    assert not (tmp_path / "x.safetensors").exists()


@needs_safetensors
def test_existing_outputs_are_kept(trained, tmp_path, capsys):
    out = tmp_path / "keep.npz"
    out.write_bytes(b"mine")
    exported = tmp_path / "m.safetensors"
    assert main(["export", str(trained), str(exported)]) == 0
    one_line_error(capsys, main(["import", str(exported), str(out)]), "exists", "--overwrite")
    assert out.read_bytes() == b"mine"
    assert main(["import", str(exported), str(out), "--overwrite"]) == 0


def test_missing_safetensors_says_how_to_install(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)     # import fails
    code = main(["export", str(trained), str(tmp_path / "m.safetensors")])
    one_line_error(capsys, code, 'pip install "tinyrnn[bridge]"')


def write_file(path, tensors: dict, metadata=None) -> Path:
    Path(path).write_bytes(require_safetensors().save(tensors, metadata))
    return Path(path)


@needs_safetensors
def test_bad_metadata_is_refused(tmp_path, capsys):
    vocab = CharVocab(TEXT)
    model = CharLM(len(vocab), hidden_size=4, num_layers=1, cell="lstm")
    weights = {k: np.asarray(v) for k, v in model.state_dict().items()}
    cases = [({}, "no 'vocab' metadata"),
             ({"vocab": "ba"}, "not sorted unique"),
             ({"vocab": "abc"}, "predicts 22 characters but the vocabulary has 3"),
             ({"vocab": vocab.chars, "config": '{"hidden_size": 9}'},
              "hidden_size 9 (the tensors say 4)"),
             ({"vocab": vocab.chars, "config": '{"cell": "gru"}'}, "cell 'gru'"),
             ({"vocab": vocab.chars, "config": "[1"}, "not a JSON object")]
    for metadata, needle in cases:
        path = write_file(tmp_path / "bad.safetensors", weights, metadata)
        one_line_error(capsys, main(["import", str(path), str(tmp_path / "o.npz")]), needle)
    # the declared cell's case does not matter: only the bias clashes here
    path = write_file(tmp_path / "bad.safetensors", weights,
                      {"vocab": vocab.chars, "config": '{"cell": "LSTM", "bias": false}'})
    line = one_line_error(capsys, main(["import", str(path), str(tmp_path / "o.npz")]),
                          "bias False")
    assert "cell" not in line, line
    renamed = {("rnn.w_ih_l0" if k == "rnn.weight_ih_l0" else k): v
               for k, v in weights.items()}
    path = write_file(tmp_path / "bad.safetensors", renamed, {"vocab": vocab.chars})
    one_line_error(capsys, main(["import", str(path), str(tmp_path / "o.npz")]),
                   "rnn.weight_ih_l0")
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("decoder, hidden_to_hidden", [
    ((5, 0), (16, 0)),        # no hidden units
    ((0, 4), (16, 4)),        # no characters
    ((5, 4), (16, 3)),        # a recurrent matrix of another hidden size
    ((5, 4), (15, 4)),        # rows that are no whole number of gates
    ((5, 4), (8, 4)),         # two gates: no RNN, GRU or LSTM has two
], ids=["H=0", "V=0", "H_hh", "rows", "G=2"])
def test_weights_that_fit_no_cell_are_refused_by_their_shapes(decoder, hidden_to_hidden):
    shapes = {"decoder.weight": decoder, "rnn.weight_hh_l0": hidden_to_hidden,
              "rnn.weight_ih_l0": (hidden_to_hidden[0], 3), "embedding.weight": (5, 3)}
    assert infer_config({**shapes, "decoder.weight": (5, 4), "rnn.weight_hh_l0": (16, 4),
                         "rnn.weight_ih_l0": (16, 3)}, {}, "f")["cell"] == "lstm"
    with pytest.raises(BridgeError, match=r"fit no RNN / GRU / LSTM"):
        infer_config(shapes, {}, "f")


def test_declared_layer_norm_is_refused_pytorch_has_no_such_cell():
    shapes = {"decoder.weight": (5, 4), "rnn.weight_hh_l0": (16, 4),
              "rnn.weight_ih_l0": (16, 3), "embedding.weight": (5, 3)}
    with pytest.raises(BridgeError, match="lstm with layer norm model"):
        infer_config(shapes, {"layer_norm": True}, "f")


# ---- the header, checked before anything is allocated --------------------------------------
def handmade(path, header: dict, data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return Path(path)


@pytest.mark.parametrize("header,data,needle", [
    ({"w": {"dtype": "F32", "shape": [100000, 100000, 100], "data_offsets": [0, 8]}},
     b"\0" * 8, "needs 4,000,000,000,000 bytes"),
    ({"w": {"dtype": "F32", "shape": [100000, 100000, 100],
            "data_offsets": [0, 4 * 10**12]}}, b"\0" * 8, "truncated"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, "overlap"),
    ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8,
     "belong to no tensor"),
    ({"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "dtype 'I64'"),
    ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4,
     "non-negative integers"),
    ({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}, b"\0" * 8,
     "data_offsets .8, 4.; expected .begin, end. with 0 <= begin <= end"),
    ({"__metadata__": {"a": 1}}, b"", "strings to strings"),
])
def test_hostile_headers_are_refused_without_allocating(tmp_path, header, data, needle):
    path = handmade(tmp_path / "h.safetensors", header, data)
    tracemalloc.start()
    with pytest.raises(BridgeError, match=needle.replace("(", r"\(")) as info:
        model_from_safetensors(str(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "\n" not in str(info.value) and peak < 5 * 2**20


def test_a_header_length_beyond_the_file_is_refused(tmp_path):
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(BridgeError, match="header length"):
        read_header(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(BridgeError, match="too short"):
        read_header(path)


# ---- fuzz: every mutation of a real file is refused in one line or loads correctly ----------
@pytest.fixture(scope="module")
def real_file(tmp_path_factory):
    vocab = CharVocab(TEXT)
    tinyrnn.manual_seed(1)
    model = CharLM(len(vocab), hidden_size=5, num_layers=2, cell="lstm")
    path = tmp_path_factory.mktemp("fuzz") / "real.safetensors"
    from tinyrnn.charlm.bridge import write_safetensors
    write_safetensors(str(path), model, vocab)
    return path.read_bytes()


def edit_header(raw: bytes, draw) -> bytes:
    """The file with one field of one tensor's header entry changed."""
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    name = draw(st.sampled_from(sorted(header)))
    ints = st.integers(-2, 2**70) | st.integers(0, 64)
    field = draw(st.sampled_from(["shape", "data_offsets", "dtype", "drop", "rename"]))
    if name == "__metadata__" or field == "rename":
        header[name + draw(st.sampled_from(["", "x", "_l9"]))] = header.pop(name)
    elif field == "shape":
        header[name]["shape"] = draw(st.lists(ints, max_size=4))
    elif field == "data_offsets":
        header[name]["data_offsets"] = draw(st.lists(ints, min_size=2, max_size=2))
    elif field == "dtype":
        header[name]["dtype"] = draw(st.sampled_from(["F16", "F64", "I32", "BOOL", 3]))
    else:
        del header[name]
    new = json.dumps(header).encode()
    return struct.pack("<Q", len(new)) + new + raw[8 + n:]


@st.composite
def mutations(draw, raw: bytes):
    kind = draw(st.sampled_from(["truncate", "flip", "header"]))
    if kind == "truncate":
        return raw[:draw(st.integers(0, len(raw) - 1))]
    if kind == "flip":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            last = min(len(raw) - 1, draw(st.sampled_from([16, 600, 10**6])))
            i = draw(st.integers(0, last))
            data[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    return edit_header(raw, draw)


@needs_safetensors
@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_files_fail_in_one_line_or_load_correctly(real_file, tmp_path, data):
    raw = data.draw(mutations(real_file))
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        model, vocab = model_from_safetensors(str(path))
    except BridgeError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:                    # it loaded: then exactly the weights the file holds
        stored = require_safetensors().load_file(str(path))
        for key, value in model.state_dict().items():
            assert np.array_equal(value, stored[key].astype(np.float32), equal_nan=True), key
        assert len(vocab) == model.vocab_size
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 10 * 2**20, peak


# ---- the example: DDP on 2 processes and back ---------------------------------------
@needs_safetensors
def test_continue_in_pytorch_smoke_trains_on_two_processes(tmp_path, capsys):
    need_torch()
    out = tmp_path / "run"
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}
    command = [sys.executable, str(EXAMPLE), "--smoke", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0 and "signal SIGABRT" in done.stderr and "wrote " in done.stdout:
        # gloo can abort a process while the group is torn down right after the final
        # barrier (pytorch/gloo#155), after everything was written: seen once in ~20
        # runs here. Run again once; any other failure, or a second one, fails the test.
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 processes on cpu (gloo)" in done.stdout
    diff = float(done.stdout.split("logits agree with tinyrnn's to ")[1].split()[0])
    assert diff < 1e-4
    # the continuation learns: the smoke run's 100 steps (a fresh 2-layer LSTM of 16 units,
    # 2 processes x 4 streams of 16 characters) print the training loss averaged over steps
    # 1-25, ..., 76-100 and then the validation loss. Seeds 0, 1, 2 and the default 123
    # took it from 4.28, 4.38, 4.49, 4.42 to 3.32, 3.32, 3.33, 3.32 nats/char (a fall of
    # 0.97 to 1.17 against the bound of 0.5), and gave validation 3.23, 3.22, 3.24, 3.25
    # against the bound of a nat under uniform, log 91 - 1 = 3.51 (0.26 to spare). 4 steps
    # (the old smoke run) went from 4.41 to 4.43.
    losses = {int(step): float(loss) for step, loss in
              re.findall(r"step (\d+): train loss ([\d.]+) nats/char", done.stdout)}
    assert sorted(losses) == [25, 50, 75, 100], done.stdout
    assert losses[100] < losses[25] - 0.5, losses
    validation = float(re.search(r"validation loss ([\d.]+) nats/char", done.stdout)[1])
    vocab = len(CharVocab(default_corpus(20_000)))        # the smoke run's 91 symbols
    assert validation < np.log(vocab) - 1.0, (validation, vocab)
    assert main(["sample", str(out / "latest.npz"), "--length", "30"]) == 0
    assert len(capsys.readouterr().out) >= 30
    model, _ = load_charlm(str(out / "latest.npz"))
    again, _ = load_charlm(str(out / "model.safetensors"))
    assert all(np.array_equal(again.state_dict()[k], v) for k, v in model.state_dict().items())
    # a second run refuses to overwrite the first, before starting any process
    spec = importlib.util.spec_from_file_location("continue_in_pytorch", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--smoke", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0]
