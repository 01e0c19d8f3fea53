"""The course kit: hand out tinyrnn's exercises and grade them.

A top-level part of its own, beside the library and the char-LM application:
it is an application of the gradient checker (:mod:`tinyrnn.check`) for
teaching, with no place in the library (which never imports it) nor in the
language model.

==================  =============================================================
``catalogue.py``    where exercises are (op files, notebook cells), their markers
``release.py``      ``course release OUT``: the student version, no solutions
``grade.py``        ``course grade DIR``: every exercise in a subprocess, scored
``runner.py``       what runs in that subprocess: the check of one exercise
``cli.py``          the two commands of ``python -m tinyrnn course``
==================  =============================================================
"""
from .catalogue import CourseError, Exercise, find_exercises
from .grade import Result, grade, gradescope, summary
from .release import release

__all__ = ["release", "grade", "gradescope", "summary", "find_exercises", "Exercise", "Result",
           "CourseError"]
