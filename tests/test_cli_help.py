"""`--help` on every command and subcommand: a usage line and a description of each option, exit 0;
and building the parser does not import the NATS client (only the stream commands need it)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from adapters.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out.append((*path, name))
                out.extend(_commands(child, (*path, name)))
    return out


COMMANDS = _commands(build_parser())


def test_the_parser_knows_the_commands_the_readme_names() -> None:
    names = {c[0] for c in COMMANDS}
    assert {"explain", "replay", "statement", "relay", "tail", "serve", "verify", "views", "report"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_answers_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert out.startswith("usage: ticketledger " + " ".join(command)) and "-h, --help" in out


def test_building_the_parser_leaves_the_nats_client_unimported() -> None:
    code = ("import sys; from adapters.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m == 'nats' or m.startswith('nats.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_command_list_says_an_asset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "show an asset: current state" in out and "show a ticket: current state" in out and " a asset" not in out
