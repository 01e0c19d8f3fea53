"""Recurrent layers (RNN, LSTM, GRU, mixed stacks), truncated BPTT with
detach_state, make_cell and CharLM.

The layers' fused path (default) must agree with the composed cells
(float64, 1e-10) in outputs and every gradient; the composed path is checked
against the NumPy references of test_cells.py and against torch.nn.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.charlm import CharLM, CharVocab, batchify, bptt_batches

from test_cells import ref_gru, ref_lstm, ref_rnn

T, B, I, H = 5, 2, 3, 4
TOL = 1e-10

LAYERS = {
    "rnn_tanh": lambda **kw: nn.RNN(I, H, **kw),
    "rnn_relu": lambda **kw: nn.RNN(I, H, nonlinearity="relu", **kw),
    "lstm": lambda **kw: nn.LSTM(I, H, **kw),
    "gru": lambda **kw: nn.GRU(I, H, **kw),
}
FUSED_OP = {"rnn_tanh": "RNNSequence", "rnn_relu": "RNNSequence", "lstm": "LSTMSequence",
            "gru": "GRUSequence"}


def flat(states) -> list:
    out = []
    for s in states:
        out += list(s) if isinstance(s, tuple) else [s]
    return out


def pair(kind, **kw):
    """The same float64 layer twice: fused (the default) and composed."""
    fused = LAYERS[kind](**kw).double()
    composed = LAYERS[kind](fused=False, **kw).double()
    composed.load_state_dict(fused.state_dict())
    return fused, composed


def random_states(layer, rng, requires_grad=False):
    def one():
        return tr.tensor(0.5 * rng.standard_normal((B, H)), dtype="float64",
                         requires_grad=requires_grad)
    return [(one(), one()) if isinstance(c, nn.LSTMCell) else one() for c in layer.cells]


# ---- fused and composed agree -------------------------------------------------------------
@pytest.mark.parametrize("kind", LAYERS)
def test_fused_is_the_default_and_layer_norm_runs_composed(kind):
    out, _ = LAYERS[kind]()(tr.randn(T, B, I, requires_grad=True))
    assert out._node.fn.__name__ == FUSED_OP[kind]
    out, _ = LAYERS[kind](fused=False)(tr.randn(T, B, I, requires_grad=True))
    assert out._node.fn.__name__ == "Stack"
    if kind != "rnn_relu":
        out, _ = LAYERS[kind](layer_norm=True)(tr.randn(T, B, I, requires_grad=True))
        assert out._node.fn.__name__ == "Stack"


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("options", [{"num_layers": 2}, {"bias": False, "batch_first": True}],
                         ids=["2layers", "nobias_batchfirst"])
def test_fused_and_composed_layers_agree(kind, options, backend):
    """Outputs, final states and the gradients of x, the initial states and
    every parameter, for a random upstream gradient on all outputs."""
    fused, composed = pair(kind, **options)
    rng = np.random.default_rng(0)
    shape = (B, T, I) if options.get("batch_first") else (T, B, I)
    x_host = rng.standard_normal(shape)
    s_host = [s.numpy() for s in flat(random_states(fused, rng))]
    results = []
    for layer in (fused, composed):
        x = tr.tensor(x_host, dtype="float64", requires_grad=True)
        s0 = [tr.tensor(s, dtype="float64", requires_grad=True) for s in s_host]
        it = iter(s0)
        states = [(next(it), next(it)) if isinstance(c, nn.LSTMCell) else next(it)
                  for c in layer.cells]
        out, final = layer(x, states)
        tensors = [out, *flat(final)]
        loss = sum((t * tr.tensor(np.random.default_rng(k).standard_normal(t.shape),
                                  dtype="float64")).sum() for k, t in enumerate(tensors))
        layer.zero_grad()
        loss.backward()
        results.append([t.numpy() for t in tensors] + [x.grad.numpy()]
                       + [s.grad.numpy() for s in s0]
                       + [p.grad.numpy() for p in layer.parameters()])
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


# ---- against the equations and torch ---------------------------------------------------------
@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("fused", [True, False])
def test_two_layer_stack_matches_reference(kind, fused):
    layer = LAYERS[kind](num_layers=2, fused=fused).double()
    params = layer.state_dict()
    x = np.random.default_rng(1).standard_normal((T, B, I))
    out, final = layer(tr.tensor(x, dtype="float64"))
    seq = x
    for k in range(2):
        p = {name[:-3]: v for name, v in params.items() if name.endswith(f"_l{k}")}
        h, c, hs = np.zeros((B, H)), np.zeros((B, H)), []
        for t in range(T):
            if kind == "lstm":
                h, c = ref_lstm(p, seq[t], h, c)
            elif kind == "gru":
                h = ref_gru(p, seq[t], h)
            else:
                h = ref_rnn(p, seq[t], h, kind.split("_")[1])
            hs.append(h)
        seq = np.stack(hs)
        got = final[k][0] if kind == "lstm" else final[k]
        np.testing.assert_allclose(got.numpy(), h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), seq, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", LAYERS)
def test_layer_matches_torch_outputs_and_gradients(kind):
    """Our state_dict loads into torch.nn.RNN/LSTM/GRU unchanged; both compute
    the same outputs, final states and parameter gradients."""
    torch = pytest.importorskip("torch")
    layer = LAYERS[kind](num_layers=2, batch_first=True).double()
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind, torch.nn.RNN)
    extra = {"nonlinearity": kind.split("_")[1]} if kind.startswith("rnn") else {}
    ref = cls(I, H, num_layers=2, batch_first=True, **extra).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((B, T, I))
    u = np.random.default_rng(3).standard_normal((B, T, H))
    out, final = layer(tr.tensor(x, dtype="float64"))
    (out * tr.tensor(u, dtype="float64")).sum().backward()
    t_out, t_final = ref(torch.from_numpy(x))
    (t_out * torch.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    t_h = t_final[0] if kind == "lstm" else t_final
    ours_h = [s[0] if kind == "lstm" else s for s in final]
    for k in range(2):
        np.testing.assert_allclose(ours_h[k].numpy(), t_h[k].detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    t_params = dict(ref.named_parameters())
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


# ---- truncated BPTT -----------------------------------------------------------------------
CHUNKABLE = {
    "rnn_tanh": lambda **kw: nn.RNN(I, H, num_layers=2, **kw),
    "rnn_relu_ln": lambda **kw: nn.RNN(I, H, nonlinearity="relu", layer_norm=True, **kw),
    "lstm": lambda **kw: nn.LSTM(I, H, num_layers=2, **kw),
    "lstm_ln": lambda **kw: nn.LSTM(I, H, layer_norm=True, **kw),
    "gru": lambda **kw: nn.GRU(I, H, num_layers=2, **kw),
    "gru_ln": lambda **kw: nn.GRU(I, H, layer_norm=True, **kw),
}


@pytest.mark.parametrize("kind", CHUNKABLE)
@pytest.mark.parametrize("fused", [True, False])
def test_long_forward_equals_chunks_with_carried_state(kind, fused, backend):
    layer = CHUNKABLE[kind](fused=fused).double()
    x = tr.tensor(np.random.default_rng(4).standard_normal((8, B, I)), dtype="float64")
    full, full_final = layer(x)
    pieces, state = [], None
    for lo, hi in ((0, 3), (3, 6), (6, 8)):
        out, state = layer(x[lo:hi], state)
        pieces.append(out.numpy())
        state = nn.detach_state(state)
    np.testing.assert_allclose(np.concatenate(pieces), full.numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(flat(state), flat(full_final)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_detached_state_cuts_backward_at_the_chunk(fused):
    layer = nn.LSTM(I, H, fused=fused)
    x1, x2 = tr.randn(T, B, I), tr.randn(T, B, I)
    out, state = layer(x1)
    out.sum().backward()                      # frees chunk 1's graph
    out, _ = layer(x2, nn.detach_state(state))
    out.sum().backward()                      # fine: the graph stops at the chunk
    out, state = layer(x1)
    out.sum().backward()
    out, _ = layer(x2, state)                 # not detached: reaches the freed graph
    with pytest.raises(RuntimeError, match="already freed"):
        out.sum().backward()


def test_detach_state_keeps_structure():
    h = tr.randn(2, 3, requires_grad=True) * 2
    state = [(h, h + 1), h, None]
    out = nn.detach_state(state)
    assert isinstance(out, list) and isinstance(out[0], tuple) and out[2] is None
    for a, b in zip(flat(out[:2]), flat(state[:2])):
        assert not a.requires_grad and a._node is None
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(TypeError, match="detach_state: expected a Tensor"):
        nn.detach_state({"h": h})


def test_charlm_over_bptt_batches_equals_one_pass():
    """The data helpers' chunks, state carried and detached, give the logits of
    one pass over the whole stream."""
    text = "the quick brown fox jumps over the lazy dog " * 3
    vocab = CharVocab(text)
    streams = batchify(vocab.encode(text), 3)                 # (N, 3)
    model = CharLM(len(vocab), hidden_size=8, num_layers=2, cell="lstm").double()
    full, _ = model(tr.tensor(streams[:-1]))
    chunks, state = [], None
    for inputs, targets in bptt_batches(streams, 10):
        logits, state = model(tr.tensor(inputs), state)
        loss = tr.cross_entropy(logits, tr.tensor(targets))
        loss.backward()
        state = nn.detach_state(state)
        chunks.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(chunks), full.numpy(), rtol=1e-11, atol=1e-12)


# ---- stacks of different cells ---------------------------------------------------------------
def test_mixed_stack_names_shapes_and_steps(backend):
    cells = [nn.LSTMCell(I, 5), nn.GRUCell(5, 6, layer_norm=True), nn.RNNCell(6, H)]
    layer = nn.Recurrent(cells)
    assert list(layer.state_dict()) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "ln_weight_l1",
        "ln_bias_l1", "weight_ih_l2", "weight_hh_l2", "bias_ih_l2", "bias_hh_l2"]
    assert layer.weight_ih_l1 is cells[1].weight_ih          # the very same Parameter
    x = tr.randn(T, B, I)
    out, states = layer(x)
    assert out.shape == (T, B, H) and len(states) == 3
    assert [s.shape for s in states[0]] == [(B, 5), (B, 5)] and states[1].shape == (B, 6)
    # by hand, step by step
    seq = x
    for k, cell in enumerate(cells):
        s, hs = None, []
        for t in range(T):
            h, s = cell(seq[t], s)
            hs.append(h)
        seq = tr.stack(hs)
    np.testing.assert_allclose(out.numpy(), seq.numpy(), rtol=1e-6, atol=1e-6)


def test_rwa_and_fast_weights_stack_on_an_lstm():
    cells = [nn.make_cell("lstm", I, H), nn.make_cell("rwa", H, 5), nn.make_cell("fw", 5, 6)]
    layer = nn.Recurrent(cells, dropout=0.2)
    x = tr.randn(T, B, I, requires_grad=True)
    out, states = layer(x)
    assert out.shape == (T, B, 6) and len(states[1]) == 4 and states[2][1].shape == (B, 6, 6)
    out.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())
    assert x.grad.shape == x.shape


def test_dropout_only_between_layers():
    x = tr.randn(T, B, I)
    one = nn.LSTM(I, H, dropout=0.5)                          # a single layer: no dropout
    np.testing.assert_array_equal(one(x)[0].numpy(), one.eval()(x)[0].numpy())
    two = nn.GRU(I, H, num_layers=2, dropout=0.5)
    train_out = two(x)[0].numpy()
    two.eval()
    eval_out = two(x)[0].numpy()
    plain = nn.GRU(I, H, num_layers=2)
    plain.load_state_dict(two.state_dict())
    np.testing.assert_array_equal(eval_out, plain(x)[0].numpy())
    assert not np.allclose(train_out, eval_out)
    assert all(not c.training for c in two.cells) and two.train().cells[0].training


def test_batch_first_is_a_transpose():
    layer = nn.GRU(I, H, num_layers=2)
    bf = nn.GRU(I, H, num_layers=2, batch_first=True)
    bf.load_state_dict(layer.state_dict())
    x = tr.randn(T, B, I)
    out_bf, _ = bf(x.transpose(0, 1))
    np.testing.assert_allclose(out_bf.transpose(0, 1).numpy(), layer(x)[0].numpy(),
                               rtol=1e-6, atol=1e-7)


# ---- bad input ----------------------------------------------------------------------------
def test_layer_bad_input():
    layer = nn.LSTM(I, H, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: input of shape \(5, 2, 7\); expected "
                                         r"\(time, batch, input_size\) with input_size 3"):
        layer(tr.randn(T, B, 7))
    with pytest.raises(ValueError, match=r"input of shape \(2, 3\)"):
        layer(tr.randn(B, I))
    with pytest.raises(ValueError, match=r"batch, time, input_size"):
        nn.GRU(I, H, batch_first=True)(tr.randn(B, T, 5))
    with pytest.raises(ValueError, match=r"LSTM: state must be a list with one cell state "
                                         r"per layer \(2\); got a list of length 1"):
        layer(tr.randn(T, B, I), [(tr.zeros(B, H), tr.zeros(B, H))])
    with pytest.raises(ValueError, match=r"LSTMCell: state h has shape \(3, 4\); expected "
                                         r"shape \(2, 4\)"):
        layer(tr.randn(T, B, I), [(tr.zeros(3, H), tr.zeros(3, H))] * 2)
    with pytest.raises(ValueError, match=r"GRUCell: state h has shape \(2, 5\)"):
        nn.GRU(I, H)(tr.randn(T, B, I), [tr.zeros(B, 5)])
    with pytest.raises(ValueError, match="is empty"):
        layer(tr.randn(0, B, I))


def test_recurrent_construction_errors():
    with pytest.raises(ValueError, match=r"Recurrent: layer 1 \(GRUCell\) has input_size 5, "
                                         r"but layer 0 outputs 4 features"):
        nn.Recurrent([nn.LSTMCell(I, H), nn.GRUCell(5, H)])
    with pytest.raises(ValueError, match="at least one cell"):
        nn.Recurrent([])
    with pytest.raises(TypeError, match="layer 0 is a Linear, not a cell"):
        nn.Recurrent([nn.Linear(3, 4)])
    with pytest.raises(ValueError, match="LSTM: num_layers must be a positive integer; got 0"):
        nn.LSTM(I, H, 0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        nn.GRU(I, H, dropout=1.0)


# ---- make_cell ------------------------------------------------------------------------------
def test_make_cell_by_name():
    from tinyrnn.nn.fast_weights import FastWeightsCell
    from tinyrnn.nn.rwa import RWACell
    expected = {"rnn": nn.RNNCell, "LSTM": nn.LSTMCell, "Gru": nn.GRUCell, "rwa": RWACell,
                "fw": FastWeightsCell, "RNN-LN-FW": FastWeightsCell,
                "rnn-ln": FastWeightsCell, "CONTROL": nn.RNNCell, "GRU-LN": nn.GRUCell}
    for name, cls in expected.items():
        cell = nn.make_cell(name, I, H)
        assert type(cell) is cls and (cell.input_size, cell.hidden_size) == (I, H), name
    assert nn.make_cell("gru-ln", I, H).layer_norm
    assert not nn.make_cell("rnn-ln", I, H).fast_weights
    assert nn.make_cell("rnn", I, H, nonlinearity="relu").nonlinearity == "relu"


def test_make_cell_unknown_name():
    with pytest.raises(ValueError, match="make_cell: unknown cell 'lstn'; expected one of "
                                         "'rnn', 'lstm', 'gru', 'rwa', 'fw', 'RNN-LN-FW'"):
        nn.make_cell("lstn", I, H)


# ---- CharLM -------------------------------------------------------------------------------
def test_charlm_shapes_config_and_one_hot(backend):
    model = CharLM(7, hidden_size=6, num_layers=2, cell="gru", dropout=0.1)
    ids = tr.tensor(np.random.default_rng(5).integers(0, 7, (T, B)))
    logits, state = model(ids)
    assert logits.shape == (T, B, 7) and len(state) == 2
    np.testing.assert_array_equal(model.embedding(ids).numpy(), np.eye(7)[ids.numpy()])
    assert model.embedding.parameters() == []       # one-hot: no V x V table, nothing to train
    names = list(model.state_dict())
    assert names[0] == "rnn.weight_ih_l0" and names[-1] == "decoder.bias"
    clone = CharLM.from_config(model.config())
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    np.testing.assert_array_equal(model(ids)[0].numpy(), clone(ids)[0].numpy())
    import json
    assert json.loads(json.dumps(model.config())) == model.config()


def test_charlm_options_and_bad_ids():
    model = CharLM(5, hidden_size=4, num_layers=1, cell="lstm", embedding_dim=3,
                      forget_bias=1.0)
    assert model.embedding.weight.shape == (5, 3) and model.embedding.weight.requires_grad
    assert model.config()["forget_bias"] == 1.0
    np.testing.assert_array_equal(model.rnn.bias_ih_l0.numpy()[4:8], np.ones(4))
    with pytest.raises(ValueError, match=r"CharLM: ids of shape \(5,\); expected \(time, batch\)"):
        model(tr.tensor(np.zeros(5, dtype=np.int64)))
    with pytest.raises(IndexError, match="out of range"):
        model(tr.tensor(np.full((2, 1), 5, dtype=np.int64)))
    with pytest.raises(ValueError, match="make_cell: unknown cell 'lsmt'"):
        CharLM(5, cell="lsmt")


def test_moving_a_layer_moves_its_cells():
    """Layer and cells share Parameter objects, so .to() and .double() reach both."""
    layer = nn.LSTM(I, H, num_layers=2)
    x = np.random.default_rng(6).standard_normal((T, B, I)).astype(np.float32)
    expected = layer(tr.tensor(x))[0].numpy()
    layer.to("strict")
    assert all(c.weight_ih.backend.name == "strict" for c in layer.cells)
    out, _ = layer(tr.tensor(x, backend="strict"))
    assert out.backend.name == "strict"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    layer.double()
    assert str(layer.cells[1].weight_hh.dtype).endswith("float64")


# ---- each parameter held once, named as PyTorch names it ------------------------------------
def test_layer_holds_each_parameter_once():
    layer = nn.LSTM(I, H, num_layers=2)
    assert not any(isinstance(v, nn.Parameter) for v in vars(layer).values())
    assert len(layer.parameters()) == sum(len(c.parameters()) for c in layer.cells) == 8
    assert layer.bias_hh_l1 is layer.cells[1].bias_hh
    with pytest.raises(AttributeError, match="LSTM has no attribute 'weight_ih_l2'"):
        layer.weight_ih_l2
    with pytest.raises(AttributeError, match="no attribute 'nonsense_l0'"):
        layer.nonsense_l0
    model = CharLM(5, hidden_size=H, num_layers=2)
    assert list(model.state_dict())[:4] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                            "rnn.bias_ih_l0", "rnn.bias_hh_l0"]


def test_subclass_that_rewrites_the_step_runs_its_own_step():
    """The fused kernel computes LSTMCell's step; a cell that rewrote it must not get it."""
    class Halved(nn.LSTMCell):
        def step(self, x, state):
            h, (_, c), inside = super().step(x, state)
            return 0.5 * h, (0.5 * h, c), inside

    cell = Halved(I, H).double()
    plain = nn.LSTMCell(I, H).double()
    plain.load_state_dict(cell.state_dict())
    x = tr.tensor(np.random.default_rng(3).standard_normal((T, B, I)))
    out, _ = nn.Recurrent([cell])(x)                        # fused=True by default
    plain_out, _ = nn.Recurrent([plain])(x)
    assert not np.allclose(out.numpy(), plain_out.numpy())
    steps, s = [], None
    for t in range(T):
        h, s = cell(x[t], s)
        steps.append(h.numpy())
    np.testing.assert_allclose(out.numpy(), np.stack(steps), rtol=1e-12)


# ---- nested states --------------------------------------------------------------------------
def test_state_helpers_round_trip_and_zero():
    h, c, n = (tr.tensor(np.full((2, 3), v, dtype=np.float32)) for v in (1, 2, 3))
    state = [(h, c), n, None, [h]]
    leaves, structure = nn.flatten_state(state)
    assert [t is u for t, u in zip(leaves, (h, c, n, h))] == [True] * 4
    rebuilt = nn.unflatten_state(structure, leaves)
    assert isinstance(rebuilt, list) and isinstance(rebuilt[0], tuple)
    assert rebuilt[0][1] is c and rebuilt[2] is None and rebuilt[3][0] is h
    assert nn.state_tensors(state) == leaves
    assert nn.unflatten_state(*reversed(nn.flatten_state(None))) is None
    doubled = nn.map_state(lambda t: t * 2, state)
    assert doubled[1].numpy()[0, 0] == 6 and doubled[2] is None
    with pytest.raises(TypeError, match="flatten_state: expected a Tensor"):
        nn.flatten_state([{"h": h}])
    like = tr.zeros(1, dtype="float64")
    zero = nn.zero_state({"h": (2, 3), "A": (2, 3, 3)}, like)
    assert [t.shape for t in zero] == [(2, 3), (2, 3, 3)]
    assert all(str(t.dtype).endswith("float64") and not t.numpy().any() for t in zero)
    assert nn.zero_state({"h": (2, 3)}, like).shape == (2, 3)      # one entry: the tensor


# ---- one registry of cell names ---------------------------------------------------------------
def test_cell_names_come_from_one_table():
    assert nn.cell_names() == nn.CELL_NAMES == (
        "rnn", "lstm", "gru", "rwa", "fw", "RNN-LN-FW", "RNN-LN", "CONTROL", "GRU-LN")
    assert nn.cell_names(paper_models=False) == ("rnn", "lstm", "gru", "rwa", "fw")
    assert nn.FAST_WEIGHTS_MODELS == nn.cell_names()[5:]
    for name in nn.cell_names():
        assert isinstance(nn.make_cell(name, I, H), nn.Cell), name
    with pytest.raises(ValueError, match="make_cell: 'GRU-LN' is a GRU with layer norm; "
                                         "layer_norm= cannot be set"):
        nn.make_cell("GRU-LN", I, H, layer_norm=False)


# ---- the readable path one flag away -------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_charlm_fused_and_composed_agree(cell):
    """CharLM(fused=False) runs the readable cells; outputs, states and every
    gradient equal the fused kernels' (float64, 1e-10)."""
    fused = CharLM(7, hidden_size=5, num_layers=2, cell=cell, embedding_dim=4).double()
    composed = CharLM(7, hidden_size=5, num_layers=2, cell=cell, embedding_dim=4,
                         fused=False).double()
    composed.load_state_dict(fused.state_dict())
    assert composed.config() == fused.config()                # a way of running, not a model
    ids = np.random.default_rng(4).integers(0, 7, (6, 3))
    u = np.random.default_rng(5).standard_normal((6, 3, 7))
    results = []
    for model in (fused, composed):
        logits, state = model(ids)
        (logits * tr.tensor(u)).sum().backward()
        results.append((logits, nn.state_tensors(state),
                        [p.grad for p in model.parameters() if p.requires_grad]))
    (a, sa, ga), (b, sb, gb) = results
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=TOL, atol=TOL)
    for x, y in zip(sa + ga, sb + gb):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=TOL, atol=TOL)
    assert not fused.rnn.cells[0].layer_norm and composed.rnn.fused is False
