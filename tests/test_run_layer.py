"""The char-LM run's structure (tinyrnn/charlm): one options table feeding argparse,
the checks and the merge; imports that run one way; short modules."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyrnn.charlm.cli import build_parser, main
from tinyrnn.charlm.options import OPTIONS, TrainConfig, check_config, flag
from tinyrnn.backend import install_hint
from tinyrnn.charlm.errors import OptionError
from tinyrnn.charlm.train.console import expected_last_step

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "tinyrnn" / "charlm"


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def train_actions():
    commands = build_parser()._subparsers._group_actions[0].choices
    return {a.dest: a for a in commands["train"]._actions if a.dest != "help"}


def test_the_command_line_is_the_table():
    """Every option of the table is a flag whose help ends with the table's
    default, and nothing else is; TrainConfig has the same names and defaults."""
    actions = train_actions()
    assert set(actions) == {o.name for o in OPTIONS}
    for o in OPTIONS:
        action = actions[o.name]
        assert action.help.startswith(o.help.split(" (default:")[0]), o.name
        assert "(default:" in action.help, o.name
        assert getattr(TrainConfig(), o.name) == o.default
        if o.name != "data":
            assert action.option_strings == [flag(o.name)]


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.check is not None],
                         ids=lambda o: o.name)
def test_every_check_names_its_flag(option):
    """A value each check refuses is refused by check_config with the flag's name."""
    bad = {int: -1, float: -1.0, str: "no-such-choice"}[option.type]
    if option.name == "lr_decay_after":
        bad = -1
    with pytest.raises(OptionError, match=f"^{flag(option.name)} must "):
        check_config(TrainConfig(**{option.name: bad}))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
            names.update("." * node.level + (node.module + "." if node.module else "") + a.name
                         for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("module", ["store", "options", "train/console", "train/corpus",
                                    "train/folder", "train/history"])
def test_only_the_loop_imports_the_loop(module):
    names = _imports(RUN / f"{module}.py")
    assert not any(n.endswith("loop") or ".loop." in n for n in names), (module, names)


@pytest.mark.parametrize("path", sorted((ROOT / "tinyrnn" / "nn").glob("*.py")),
                         ids=lambda p: p.name)
def test_nn_never_imports_the_run_layer(path):
    names = _imports(path)
    assert not any("charlm" in n.split(".") or n.endswith("train") for n in names), names


def test_modules_are_short():
    for path in sorted(RUN.glob("*.py")) + [ROOT / "tinyrnn" / "__main__.py"]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{path.name} has {lines} lines"


def test_sampling_does_not_import_the_training_loop(tmp_path):
    """`python -m tinyrnn sample` (here its main) loads a model with the schema
    module alone."""
    from tinyrnn.charlm.store import save_model
    from tinyrnn.charlm import CharVocab
    from tinyrnn.charlm.model import CharLM
    save_model(tmp_path / "m.npz", CharLM(3, 4, 1), CharVocab("abc"))
    code = ("import sys; from tinyrnn.charlm.cli import main; "
            f"assert main(['sample', {str(tmp_path / 'm.npz')!r}, '--length', '5']) == 0; "
            "assert 'tinyrnn.charlm.train.loop' not in sys.modules, 'loop imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) == 5


def test_the_eta_is_against_the_limit_that_stops_the_run():
    # 10 steps took 1 s each; 8 s of --max-time are left: step 10 + 8 + 1, not 19,000
    assert expected_last_step(10, 19_000, 2.0, 10.0, 1.0) == 19
    assert expected_last_step(10, 15, 2.0, 10.0, 1.0) == 15          # the steps end first
    assert expected_last_step(10, 19_000, 2.0, None, 1.0) == 19_000  # no time limit


def test_install_hint_fits_where_tinyrnn_is():
    """This copy is a checkout (setup.cfg beside the package): an editable extra."""
    assert (ROOT / "setup.cfg").is_file()
    assert install_hint("plot") == f'pip install -e "{ROOT}[plot]"'


def test_subcommands_are_registered():
    from tinyrnn.charlm import cli
    calls = []
    cli.register("hello", lambda sub: sub.add_parser("hello", help="say hello"),
                 lambda args: calls.append(args.command) or 0)
    try:
        assert main(["hello"]) == 0 and calls == ["hello"]
    finally:
        del cli.COMMANDS["hello"]


def test_the_library_loads_neither_the_application_nor_matplotlib():
    """``import tinyrnn`` brings the library (viz included) but not matplotlib and
    not the char-LM application; loading and sampling a model never load training."""
    code = ("import sys, tinyrnn as tr; f = tr.viz.plot_activation; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib'; "
            "assert not [m for m in sys.modules if m.startswith('tinyrnn.charlm')], 'charlm'; "
            "from tinyrnn.charlm import load_model, sample; "
            "import tinyrnn.charlm.cli, tinyrnn.charlm.bridge; "
            "assert not [m for m in sys.modules if m.startswith('tinyrnn.charlm.train')], 'train'; "
            "assert not hasattr(tr, 'no_such_module')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env(), timeout=120)
    assert done.returncode == 0, done.stderr


def test_no_fused_runs_the_composed_cells_or_says_why_not(tmp_path, capsys):
    import inspect
    from tinyrnn.charlm.model import CharLM
    (tmp_path / "t.txt").write_text("hello world, hello tinyrnn\n" * 40, encoding="utf-8")
    code = main(["train", str(tmp_path / "t.txt"), "--no-fused", "--rnn-size", "4",
                 "--num-layers", "1", "--batch-size", "4", "--seq-length", "8",
                 "--max-steps", "1", "--sample-length", "0",
                 "--checkpoint-dir", str(tmp_path / "ck")])
    err = capsys.readouterr().err
    if "fused" in inspect.signature(CharLM).parameters:
        assert code == 0, err
    else:
        assert code == 2 and err.strip().splitlines() == [
            "python -m tinyrnn train: error: --no-fused: this tinyrnn's CharLM has no "
            "fused= option; leave the flag out"]
        assert not (tmp_path / "ck").exists()
