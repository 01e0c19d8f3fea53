"""``python -m tinyrnn``: the command line (:mod:`tinyrnn.charlm.cli`)."""
import sys

from .charlm.cli import main

if __name__ == "__main__":
    sys.exit(main())
