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

This file only gathers: each family lists its functions in its own
``__all__``, and ``tinyrnn.ops.tanh`` and ``tinyrnn.tanh`` reach them from there.
"""
from . import arithmetic, unary, reduce, linalg, shape, softmax, normalization, dropout

__all__ = [*arithmetic.__all__, *unary.__all__, *reduce.__all__, *linalg.__all__,
           *shape.__all__, *softmax.__all__, *normalization.__all__, *dropout.__all__]
# the functions themselves; ``softmax`` and ``dropout`` then name functions, not files
from .arithmetic import *      # noqa: F401,F403  (each family's __all__)
from .unary import *           # noqa: F401,F403
from .reduce import *          # noqa: F401,F403
from .linalg import *          # noqa: F401,F403
from .shape import *           # noqa: F401,F403
from .softmax import *         # noqa: F401,F403
from .normalization import *   # noqa: F401,F403
from .dropout import *         # noqa: F401,F403
