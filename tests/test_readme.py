"""The README as a newcomer uses it: the set-up block, every Python snippet run
as pasted and in order, every `python -m tinyrnn` command line accepted, no
pointer to a file the repository lacks, and a clean `git status` afterwards."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import tinyrnn.__main__  # noqa: F401,E402  (registers `course` beside the char-LM's commands)
from tinyrnn.charlm.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def test_the_setup_installs_editable():
    setup = blocks("sh")[0].strip().splitlines()
    assert len(setup) == 2
    assert ".venv/bin/pip install -e . &&" in setup[0]
    assert '.venv/bin/pip install -e ".[test]" &&' in setup[1]


def test_every_python_snippet_runs_in_order(tmp_path, monkeypatch):
    snippets = blocks("python")
    assert len(snippets) >= 2
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for k, code in enumerate(snippets):
        exec(compile(code, f"README.md python snippet {k + 1}", "exec"), namespace)


def test_every_command_line_is_accepted():
    parser = build_parser()
    lines = [line.split("  #")[0] for block in blocks("sh")
             for line in block.splitlines() if line.startswith("python -m tinyrnn ")]
    assert len(lines) >= 6
    for line in lines:
        parser.parse_args(shlex.split(line)[3:])        # SystemExit (2) if not


def test_no_pointer_to_a_missing_file():
    for name in re.findall(r"\b([A-Z][A-Za-z_]*\.md)\b", README):
        assert list(ROOT.rglob(name)), f"README mentions {name}, not in the repository"
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_install_hints_for_a_checkout_and_an_index():
    words = " ".join(README.split())
    assert 'pip install -e ".[plot]"' in words and 'pip install "tinyrnn[plot]"' in words


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a git checkout")
def test_the_examples_outputs_are_ignored_by_git():
    outputs = ["cells_out/index.html", "compare_out/table.md", "rwa_out/results.md",
               "retrieval_out/results.md", "char_rnn.npz", "checkpoints/latest.npz",
               "runs/notes/latest.npz"]
    done = subprocess.run(["git", "check-ignore", "--no-index", *outputs], cwd=ROOT,
                          capture_output=True, text=True)
    assert sorted(done.stdout.split()) == sorted(outputs), done.stderr
