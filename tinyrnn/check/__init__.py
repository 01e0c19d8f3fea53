"""Checking gradients: is a hand-written backward right?

==================  =============================================================
``numeric.py``      central differences in float64, the comparison every check
                    makes, and the CS231n-style helpers for plain NumPy functions
                    (``eval_numerical_gradient_array``, ``rel_error``)
``gradcheck.py``    ``gradcheck(fn, inputs)``: a function's backward against
                    central differences; ``gradcheck_module`` with a layer's
                    parameters too
``locate.py``       ``locate(fn, inputs)``: which recorded op of a failing
                    computation has the wrong backward
==================  =============================================================

``tinyrnn.gradcheck`` and ``tinyrnn.locate`` are the first two functions.
"""
from .numeric import (DEFAULT_DIRECTIONS, GradcheckError, Mismatch, eval_numerical_gradient,
                      eval_numerical_gradient_array, first_mismatch, float64_parameters,
                      numerical_gradients, rel_error)
from .gradcheck import gradcheck, gradcheck_module
from .locate import Located, locate

__all__ = ["gradcheck", "gradcheck_module", "locate", "Located", "GradcheckError",
           "rel_error", "eval_numerical_gradient", "eval_numerical_gradient_array",
           "numerical_gradients", "first_mismatch", "Mismatch", "float64_parameters",
           "DEFAULT_DIRECTIONS"]
