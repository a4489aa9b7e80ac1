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


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out.extend(_parsers(child, (*path, name)))
    return out


def test_every_option_says_what_it_does() -> None:
    # export --parquet, report --contract/--customer/--site, demo --seed, person add's options,
    # attach --description, nats customer-stream --replicas were listed in --help with no word
    silent = sorted({f"{' '.join(path)} {action.option_strings[-1]}" for path, parser in _parsers(build_parser())
                     for action in parser._actions
                     if action.option_strings and not (action.help or "").strip()})
    assert silent == []


def test_witness_help_says_it_needs_the_log_s_nats_server(capsys: pytest.CaptureFixture[str]) -> None:
    # it said "NATS (default: a nats-server started in the data folder)", and the command refuses without --nats-url
    with pytest.raises(SystemExit):
        main(["witness", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: a nats-server started in the data folder" not in out
    assert "required: the log's NATS server" in out
