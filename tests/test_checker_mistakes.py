"""Every mistake of tests/checker_mistakes.py, planted, is caught with its words,
and docs/teaching.md shows exactly the table made from that catalogue."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checker_mistakes import MISTAKES, markdown_table  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "teaching.md"


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_the_checker_catches_it_in_these_words(mistake):
    said = mistake.run()
    assert mistake.words in said, said


def test_the_docs_table_is_the_catalogue():
    text = DOCS.read_text(encoding="utf-8")
    assert markdown_table() in text, ("docs/teaching.md's table of mistakes differs from "
                                      "tests/checker_mistakes.py; paste markdown_table()'s output")
