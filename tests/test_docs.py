"""Documentation is tested: every setting and every CLI command appears in the README."""

import re

import pytest

from enrollment.cli import cli
from enrollment.settings import SETTINGS

from .fixtures import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_setting_is_documented(setting):
    assert f"`{setting.env}`" in README
    assert setting.help in README


def _commands(group, prefix=""):
    for name, command in group.commands.items():
        yield prefix + name, command
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + name + " ")


@pytest.mark.parametrize("name, command", list(_commands(cli)), ids=lambda x: str(x))
def test_cli_command_and_options_are_documented(name, command):
    rows = [line for line in README.splitlines() if line.startswith(f"| `{name}")]
    assert rows, f"README has no row for the command {name!r}"
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--"):
                assert any(opt in row for row in rows), f"{name} {opt} is not documented"


def test_readme_gives_exactly_the_two_setup_commands():
    block = re.search(r"## Set up on a fresh machine.*?```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./scripts/start.sh", "./scripts/test.sh"]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec ./scripts/test.sh")
