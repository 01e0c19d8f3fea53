"""Fused recurrent sequence kernels: a whole RNN / LSTM / GRU layer over T
steps as ONE op, with backpropagation through time written by hand.

Why fuse? The readable cells (``tinyrnn.nn``) compose a step from ops, so a
sequence of T steps records ~10*T graph nodes, multiplies by the weights in
T small products forward and T more for the weight gradients backward, and
spends most of its time in Python bookkeeping when the matrices are small.
The fused kernels do what a hand-written NumPy RNN does (the CS231n
exercise), only more carefully:

* the input projection X W_ih^T for all T steps is one (T*B, I) @ (I, G*H)
  product; only the recurrent product h_{t-1} W_hh^T runs once per step;
* gates are computed in place in preallocated buffers (``Backend.into`` =
  ``out=`` on NumPy/CuPy), so a step allocates nothing;
* backward walks back in time once, then gets dW_ih = dZ^T X,
  dW_hh = dZ^T H_prev and dx = dZ W_ih as single products over all T*B rows;
* backward writes the gate gradients over the saved activations when the
  graph is not retained, so it needs no second (T, B, G*H) buffer.

Layouts and gate orders are PyTorch's (weights load into ``torch.nn.LSTM``
unchanged). The tests check every output and gradient against the composed
cells in float64 to 1e-10 and by ``tinyrnn.gradcheck``.

One module per kernel, each holding its op (``RNNSequence`` ...) and the
function that checks the arguments and calls it (``rnn_sequence`` ...):
``rnn.py``, ``lstm.py``, ``gru.py``; the helpers they share (buffers, the
input projection, the weight gradients) are in ``common.py``.
"""
from .gru import GRUSequence, gru_sequence
from .lstm import LSTMSequence, lstm_sequence
from .rnn import RNNSequence, rnn_sequence

__all__ = ["rnn_sequence", "lstm_sequence", "gru_sequence",
           "RNNSequence", "LSTMSequence", "GRUSequence"]
