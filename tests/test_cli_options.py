"""Counts, positions, durations, event types and subject ids on the command line are refused
when they cannot mean anything (zero, negative, not a number, unknown type, a token no subject
can hold), before any work starts, naming what would be right."""

from __future__ import annotations

import pytest

from adapters.cli import main

BAD = [
    (["relay", "--batch", "0"], "--batch: '0': write a whole number above 0"),
    (["relay", "--window", "-1"], "--window: '-1': write a whole number above 0"),
    (["views", "follow", "--batch", "0"], "--batch: '0': write a whole number above 0"),
    (["views", "follow", "--snapshot-every", "-1"], "write a number of seconds above 0"),
    (["views", "follow", "--max-seconds", "nan"], "write a number of seconds above 0"),
    (["log", "--from", "-5"], "--from: '-5': write a whole number above 0"),
    (["log", "--limit", "0"], "--limit: '0': write a whole number above 0"),
    (["tail", "--from-position", "-4"], "--from-position: '-4': write a whole number above 0"),
    (["demo", "--tickets", "0"], "--tickets: '0': write a whole number above 0"),
    (["report", "sla", "--limit", "-3"], "--limit: '-3': write a whole number above 0"),
    (["tail", "--type", "Bogus"], "invalid choice: 'Bogus' (choose from 'AssetAccepted'"),
    (["tail", "--customer", "a.b"], "--customer is 1-64 characters of A-Z a-z 0-9 _ -"),
    (["nats", "customer-stream", "bad name/x"], "CUSTOMER is 1-64 characters of A-Z a-z 0-9 _ -"),
]


@pytest.mark.parametrize(("argv", "says"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_meaningless_numbers_are_refused_before_any_work(tmp_path, capsys, argv: list[str], says: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--data-dir", str(tmp_path / "data"), *argv])
    assert exit_.value.code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing created, nothing recorded


def test_a_meaningless_number_is_refused_in_the_reader_s_language(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--data-dir", str(tmp_path / "data"), "--lang", "zh_CN", "report", "sla", "--limit", "-3"])
    assert "参数 --limit：'-3'：请写大于 0 的整数" in capsys.readouterr().err


def test_a_pdf_command_takes_the_chromium_main_started_before_the_imports(tmp_path, monkeypatch) -> None:
    # `main` starts the printer before the command modules are imported (adapters.cli.
    # _start_printer_ahead); the command takes that one and starts none of its own, and one
    # nobody took (here: a refused month) is closed on the way out
    import adapters.cli as cli
    import adapters.printing as printing

    made: list[FakePrinter] = []

    class FakePrinter:
        def __init__(self) -> None:
            self.closed = False
            made.append(self)

        def close(self) -> None:
            self.closed = True

        def __enter__(self) -> FakePrinter:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    parsed: list[int] = []
    build = cli.build_parser
    monkeypatch.setattr(printing, "Printer", FakePrinter)
    monkeypatch.setattr(cli, "build_parser", lambda: (parsed.append(len(made)), build())[1])
    assert main(["--data-dir", str(tmp_path), "statement", "--customer", "c", "--month", "2025-13",
                 "--format", "pdf", "--out", str(tmp_path / "s.pdf")]) == 2
    assert parsed == [1] and len(made) == 1 and made[0].closed  # started before the parse, closed after
    made.clear()
    # a valid month: the command takes the printer (no views here, so it stops after), starting none
    assert main(["--data-dir", str(tmp_path), "statement", "--customer", "c", "--month", "2025-05",
                 "--format", "pdf", "--out", str(tmp_path / "s.pdf")]) == 2
    assert len(made) == 1 and made[0].closed and cli.printer_ahead() is None
    made.clear()
    main(["--data-dir", str(tmp_path), "statement", "--customer", "c", "--month", "2025-05", "--format", "html",
          "--out", str(tmp_path / "s.html")])
    assert made == []  # no PDF, no browser


@pytest.mark.parametrize("argv", [["--lang", "fr", "log"], ["log", "--lang", "fr"], ["log", "--lang=de"]])
def test_an_unknown_lang_option_has_the_unknown_language_code(tmp_path, capsys, argv: list[str]) -> None:
    # README: TL-E002 is an unknown language, as TICKETLEDGER_LANG=fr already said; --lang fr said TL-E001
    with pytest.raises(SystemExit) as exit_:
        main(["--data-dir", str(tmp_path / "data"), *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "TL-E002: argument --lang: language " in err and "use zh_CN or en" in err
    with pytest.raises(SystemExit):
        main(["--data-dir", str(tmp_path / "data"), "log", "--lang"])  # no value at all: a usage error
    assert "TL-E001: argument --lang: expected one argument" in capsys.readouterr().err


REPEATED = [
    (["statement", "--customer", "buyer-000", "--customer", "buyer-001", "--month", "2025-10", "--out", "s.html"],
     "--customer given twice (--customer 'buyer-000', then --customer 'buyer-001')"),
    (["statement", "--customer", "b", "--month", "2025-10", "--month=2025-09", "--out", "s.html"],
     "--month given twice (--month '2025-10', then --month '2025-09')"),
    (["report", "sla", "--contract", "K-000", "--contract", "K-001"], "--contract given twice"),
    (["views", "rebuild", "--at", "2025-10-01T00:00+08:00", "--at", "2025-11-01T00:00+08:00"], "--at given twice"),
    # a global option before the command and again after it (the command's own namespace hid the first)
    (["report", "sla", "--data-dir", "elsewhere"], "--data-dir given twice"),
    (["--lang", "en", "report", "sla", "--lang", "zh_CN"], "--lang given twice (--lang 'en', then --lang 'zh_CN')"),
]


@pytest.mark.parametrize(("argv", "says"), REPEATED, ids=[" ".join(a[:3]) for a, _ in REPEATED])
def test_a_single_valued_option_given_twice_is_refused_not_the_last_kept(tmp_path, capsys, argv: list[str],
                                                                         says: str) -> None:
    """argparse keeps the last of a repeated option silently: one customer's statement where two
    were asked for. Refused before any work, as a usage error, whatever the command."""
    with pytest.raises(SystemExit) as exit_:
        main(["--data-dir", str(tmp_path / "data"), *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and ": TL-E001: " in err and says in err and "give it once" in err
    assert not (tmp_path / "data").exists()  # nothing created, nothing recorded


def test_options_meant_to_repeat_still_repeat() -> None:
    """`--terms-for` (append) takes as many as are given."""
    from adapters.cli import build_parser

    args = build_parser().parse_args(["replay", "--terms", "t.toml", "--terms-for", "K-000", "--terms-for", "K-001",
                                      "--out", "r.duckdb"])
    assert args.terms_for == ["K-000", "K-001"]
