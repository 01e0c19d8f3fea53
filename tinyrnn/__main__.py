"""``python -m tinyrnn``: the command line (:mod:`tinyrnn.charlm.cli`), with the
course kit's ``course`` command (:mod:`tinyrnn.course.cli`) registered beside it."""
import sys

from .charlm.cli import main, register
from .course import cli as course_cli

register("course", course_cli.add_parser, course_cli.run)

if __name__ == "__main__":
    sys.exit(main())
