"""The entry point builds only the command that runs; what the user sees must not change."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from kubefence.cli.app import app, main
from kubefence.cli.demo import demo_path
from kubefence.cli.dispatch import narrowed


def test_first_argument_picks_one_command_or_sub_app() -> None:
    only = narrowed(app, ["matrix", "x/", "-o", "counts"])
    assert only is not None
    assert [c.callback.__name__ for c in only.registered_commands if c.callback] == ["matrix"]
    assert only.registered_groups == []
    lab = narrowed(app, ["lab", "run", "--help"])
    assert lab is not None
    assert [g.name for g in lab.registered_groups] == ["lab"] and lab.registered_commands == []
    named = narrowed(app, ["compile", "x/"])  # registered under an explicit name
    assert named is not None and [c.name for c in named.registered_commands] == ["compile"]
    # the app itself is untouched
    assert len(app.registered_commands) > 5 and app.registered_groups


@pytest.mark.parametrize("args", [[], ["--help"], ["nosuch"], ["-o"]])
def test_anything_else_gets_the_whole_app(args: list[str]) -> None:
    assert narrowed(app, args) is None


@pytest.mark.parametrize(
    "args",
    [
        ["matrix", "{demo}", "-o", "counts"],
        ["check", "{demo}", "shop/frontend", "shop/backend", "--port", "8080"],
        ["matrix", "--help"],
        ["lab", "--help"],
        ["profiles", "-o", "json"],
        ["matrix"],  # missing argument: the usage error names the command
        ["nosuch"],  # unknown command: the whole app's error
        [],
    ],
)
def test_main_answers_as_the_whole_app(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [a.replace("{demo}", demo_path()) for a in args]
    expected = CliRunner().invoke(app, args, prog_name="kubefence")
    monkeypatch.setattr(sys, "argv", ["kubefence", *args])
    with pytest.raises(SystemExit) as ended:
        main()
    out, err = capsys.readouterr()
    assert ended.value.code == expected.exit_code
    assert (out, err) == (expected.stdout, expected.stderr)
