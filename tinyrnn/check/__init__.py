"""Checking gradients: is a hand-written backward right?

==================  =============================================================
``numeric.py``      the one pass criterion every check uses (``agree``), the
                    CS231n-style helpers for plain NumPy functions
                    (``eval_numerical_gradient_array``, ``rel_error``) and the
                    lectures' verdict (``report``)
``compare.py``      the check itself: backward's gradients against central
                    differences in float64, and what to say when they differ
``gradcheck.py``    ``gradcheck(fn, inputs)``: a function's backward against
                    central differences; ``gradcheck_module`` with a layer's
                    parameters too
``locate.py``       ``locate(fn, inputs)``: which recorded op of a failing
                    computation has the wrong backward
==================  =============================================================

``tinyrnn.gradcheck`` and ``tinyrnn.locate`` are the first two functions.
"""
from .numeric import (ATOL, DEFAULT_DIRECTIONS, RTOL, GradcheckError, agree,
                      eval_numerical_gradient, eval_numerical_gradient_array, float64_parameters,
                      not_implemented, rel_error, report, rounding_noise)
from .compare import Mismatch, first_mismatch, mismatches, numerical_gradients
from .gradcheck import gradcheck, gradcheck_module
from .locate import Located, locate

__all__ = ["gradcheck", "gradcheck_module", "locate", "Located", "GradcheckError",
           "rel_error", "eval_numerical_gradient", "eval_numerical_gradient_array",
           "numerical_gradients", "first_mismatch", "Mismatch", "float64_parameters",
           "DEFAULT_DIRECTIONS", "agree", "report", "not_implemented", "rounding_noise", "mismatches", "RTOL",
           "ATOL"]
