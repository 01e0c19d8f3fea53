"""``python -m tinyrnn course release OUT`` and ``python -m tinyrnn course grade DIR [--json FILE]``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .catalogue import CourseError
from .grade import TIME_LIMIT, grade, gradescope, summary
from .release import release


def add_parser(sub) -> None:
    """The ``course`` subcommand and its two actions."""
    course = sub.add_parser("course", help="hand out and grade the course's exercises",
                            description="Release the student version of the course, or "
                                        "grade a copy of it.")
    actions = course.add_subparsers(metavar="ACTION", required=True, dest="action")
    out = actions.add_parser("release", help="write the student version (no solutions) to OUT")
    out.add_argument("out", metavar="OUT", help="a new or empty folder")
    out.add_argument("--source", help="the instructor's tree (default: this checkout)")
    marks = actions.add_parser("grade", help="grade the exercises in DIR")
    marks.add_argument("dir", metavar="DIR", help="a student's copy, or the instructor's tree")
    marks.add_argument("--json", metavar="FILE",
                       help="also write Gradescope's results.json to FILE")
    marks.add_argument("--reference", help="the instructor's tree whose exercises and checks "
                                           "are used (default: this checkout)")
    marks.add_argument("--time-limit", type=float, default=TIME_LIMIT, metavar="SECONDS",
                       help=f"per exercise (default {TIME_LIMIT:g})")


def run(args: argparse.Namespace) -> int:
    """Run ``course release`` or ``course grade``; 0 on success, 1 on a course error."""
    try:
        if args.action == "release":
            written = release(args.out, args.source)
            print(f"wrote {len(written)} files to {args.out}: " + ", ".join(written))
            return 0
        results = grade(args.dir, args.reference, args.time_limit)
    except CourseError as err:
        print(f"python -m tinyrnn course: error: {err}", file=sys.stderr)
        return 1
    print(summary(results))
    if args.json:
        Path(args.json).write_text(json.dumps(gradescope(results), indent=2) + "\n",
                                   encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``course`` on its own, for tests and scripts: ``main(["grade", "."])``."""
    parser = argparse.ArgumentParser(prog="python -m tinyrnn")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["course", *(argv if argv is not None else sys.argv[1:])]))
