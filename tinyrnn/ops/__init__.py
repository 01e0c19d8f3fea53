"""The ops, one file per family; each file holds the op classes (forward and
backward side by side) and, right after each class, the function you call
(``add``, ``tanh``, ``matmul`` ...), which checks its arguments and applies the class.

==================  ==============================================================
``arithmetic.py``   + - * / ** neg maximum minimum where; how numbers and lists
                    become operands, and the broadcast check
``unary.py``        exp log sqrt tanh sigmoid relu clip
``reduce.py``       sum mean max min logsumexp
``linalg.py``       matmul, linear
``shape.py``        reshape permute transpose broadcast_to getitem take embedding
                    concat stack split
``softmax.py``      softmax log_softmax cross_entropy
``normalization.py`` layer_norm
``dropout.py``      dropout
``fused/``          whole RNN / LSTM / GRU layers over a sequence as one op each
==================  ==============================================================

This file only gathers the functions, so that ``tinyrnn.ops.tanh`` and
``tinyrnn.tanh`` reach them.
"""
from .arithmetic import (add, sub, mul, div, neg, pow, maximum, minimum, where,
                         as_tensor_like, plain_number, check_broadcast)
from .unary import exp, log, sqrt, tanh, sigmoid, relu, clip
from .reduce import sum, mean, max, min, logsumexp
from .linalg import matmul, linear
from .shape import (reshape, permute, transpose, broadcast_to, getitem, take, embedding,
                    concat, stack, split)
from .softmax import softmax, log_softmax, cross_entropy
from .normalization import layer_norm
from .dropout import dropout

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "where",
    "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clip",
    "sum", "mean", "max", "min", "logsumexp", "matmul", "linear",
    "reshape", "permute", "transpose", "broadcast_to", "getitem", "take", "embedding",
    "concat", "stack", "split",
    "softmax", "log_softmax", "cross_entropy", "layer_norm", "dropout",
]
