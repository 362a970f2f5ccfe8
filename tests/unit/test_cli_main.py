"""`etb` itself: the command table, help, version, and the exit-code policy of `main()`."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from etbuilder import __version__
from etbuilder.cli import main as cli
from etbuilder.errors import RunError
from tests.specs import ROOT, VALID_SPECS


def run_etb(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a fresh interpreter, as the `etb` console script does."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "etbuilder.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=120,
    )


def test_every_command_in_the_table_resolves() -> None:
    group = typer.main.get_command(cli.app)
    assert isinstance(group, cli.LazyCommands)
    context = group.make_context("etb", ["--version"], resilient_parsing=True)
    assert group.list_commands(context) == list(cli.COMMANDS)
    for name, target in cli.COMMANDS.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function))
        assert group.get_command(context, name).name == name
        assert cli.command_summary(name), f"{target} needs a one-line docstring"


def test_console_script_points_at_main() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'etb = "etbuilder.cli.main:main"' in pyproject


def test_help_lists_one_line_per_command(capsys) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        (line,) = [x for x in out.splitlines() if x.strip().startswith(name + " ")]
        assert len(line.split(name, 1)[1].strip()) > 10, line


def test_version(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"etb {__version__}\n"


def test_valid_spec_exits_0(capsys) -> None:
    spec = ROOT / "tests/specs/valid/classification-dapt.yaml"
    assert cli.main(["validate", str(spec)]) == 0
    assert (
        capsys.readouterr().out == "ok: banking77-dapt (classification, dapt -> lora, minilm-l6)\n"
    )


def test_user_mistake_exits_2_without_traceback(capsys, write_spec) -> None:
    path = write_spec("name: t\n")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "missing required key 'data'" in err and "Traceback" not in err


def test_usage_error_exits_2(capsys) -> None:
    assert cli.main(["validat"]) == 2
    assert cli.main(["validate"]) == 2


def test_other_etb_errors_use_their_exit_code(monkeypatch, capsys) -> None:
    def fail(path: str, overrides: list[str] | None) -> None:
        raise RunError("no run folder at runs/x")

    monkeypatch.setattr("etbuilder.cli.validate.load", fail)
    assert cli.main(["validate", "x.yaml"]) == 2
    assert capsys.readouterr().err == "no run folder at runs/x\n"


@pytest.mark.parametrize("debug", ["", "1"])
def test_internal_error_exits_1_with_one_line(monkeypatch, capsys, debug: str) -> None:
    def crash(path: str, overrides: list[str] | None) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("etbuilder.cli.validate.load", crash)
    monkeypatch.setenv("ETB_DEBUG", debug)
    assert cli.main(["validate", str(VALID_SPECS[0])]) == 1
    err = capsys.readouterr().err
    assert "etb: internal error (ZeroDivisionError: boom)" in err
    assert ("Traceback" in err) == bool(debug)


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\nfrom etbuilder.cli.main import COMMANDS, main\nmain(['--help'])\n"
        "print(sorted(m for t in COMMANDS.values() if (m := t.split(':')[0]) in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stderr


def test_subprocess_exit_codes(write_spec) -> None:
    ok = run_etb("validate", str(VALID_SPECS[0]))
    assert (ok.returncode, ok.stderr) == (0, "")
    assert ok.stdout.startswith("ok: ")
    bad = run_etb("validate", str(write_spec("name: [\n")))
    assert bad.returncode == 2 and "not valid YAML" in bad.stderr and "Traceback" not in bad.stderr


NO_HEAVY_IMPORTS = """
import sys
from etbuilder.cli.main import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers", "optuna", "onnx"})
print("HEAVY:", ",".join(heavy))
sys.exit(code)
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["validate", str(VALID_SPECS[0])], ["schema"], ["templates"]],
    ids=lambda a: a[0],
)
def test_no_heavy_imports(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_HEAVY_IMPORTS, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "HEAVY: "


def test_ctrl_c_prints_a_line_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI library turns Ctrl-C into a silent exit 130; etb's handler must still speak."""
    import etbuilder.spec.loader

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(etbuilder.spec.loader, "load_spec", interrupted)
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\n", encoding="utf-8")
    assert cli.main(["validate", str(spec)]) == 130
    assert capsys.readouterr().err.strip() == "etb: interrupted"
