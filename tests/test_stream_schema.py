"""`ticketledger schema`: one JSON Schema per event type and version, in docs/schemas/."""

from __future__ import annotations

from pathlib import Path

import msgspec

from adapters.cli import main
from adapters.cli.stream import schemas
from domain import events as ev

ROOT = Path(__file__).resolve().parents[1]


def test_schema_files_cover_every_type_and_match_the_code(tmp_path: Path, capsys) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {f"{n}.v{c.version}.json" for n, c in ev.FACT_TYPES.items()} | {"commands.json", "Terms.json", "alert.json"}
    committed = ROOT / "docs" / "schemas"
    for name in written:  # the committed files are the generated ones
        assert msgspec.json.decode((committed / name).read_bytes()) == msgspec.json.decode((tmp_path / name).read_bytes()), name
    assert (committed / "TicketOpened.v1.json").exists()  # old versions stay published
    assert main(["schema", "TicketOpened"]) == 0
    assert '"x-ledger-version": 2' in capsys.readouterr().out
    doc = schemas()["commands.json"]
    assert set(doc["$defs"]) >= set(ev.FACT_TYPES)


def test_schema_writes_files_only_where_asked(tmp_path: Path, monkeypatch, capsys) -> None:
    """It wrote docs/schemas/ into whatever folder the user stood in (issue 14 item 12)."""
    monkeypatch.chdir(tmp_path)
    assert main(["schema"]) == 0
    listed = capsys.readouterr().out
    assert "TicketOpened.v2.json" in listed and "`schema --out DIR` writes the files" in listed
    assert main(["schema", "AssetRegistered"]) == 0
    assert msgspec.json.decode(capsys.readouterr().out)["x-ledger-type"] == "AssetRegistered"
    assert main(["--json", "schema"]) == 0
    assert set(msgspec.json.decode(capsys.readouterr().out)) == set(schemas())
    assert list(tmp_path.iterdir()) == [], "nothing written without --out"
    assert main(["schema", "TicketClosed", "--out", "mine"]) == 0
    assert [p.name for p in (tmp_path / "mine").iterdir()] == [f"TicketClosed.v{ev.TicketClosed.version}.json"]


def _time_fields(node: object, path: str = "$") -> list[tuple[str, dict]]:
    """Every schema node that declares a time (a format bound or a date-time format), with its path."""
    if isinstance(node, list):
        return [f for i, item in enumerate(node) for f in _time_fields(item, f"{path}[{i}]")]
    if not isinstance(node, dict):
        return []
    own = [(path, node)] if {"formatMinimum", "formatExclusiveMaximum"} & node.keys() \
        or node.get("format") == "date-time" else []
    return own + [f for k, v in node.items() for f in _time_fields(v, f"{path}.{k}")]


def test_every_published_time_says_date_time_beside_its_bounds() -> None:
    """ajv-formats refuses to compile formatMinimum without "format" (37 of 38 files did), and a
    validator without it checks no time at all: every time field of every file is a date-time string
    with the days the views count."""
    published = {f.name: msgspec.json.decode(f.read_bytes()) for f in (ROOT / "docs" / "schemas").glob("*.json")}
    docs = {**published, **schemas()}  # the generated ones, and the frozen old versions
    checked = 0
    for name, doc in docs.items():
        for path, node in _time_fields(doc):
            if name == "alert.json":  # an evaluation's times, no fact's: no bounds to publish
                assert node == {"type": "string", "format": "date-time"}, f"{name} {path}: {node}"
                continue
            assert node == {"type": "string", "format": "date-time", "formatMinimum": "2000-01-01T00:00:00Z",
                            "formatExclusiveMaximum": "2061-01-01T00:00:00Z"}, f"{name} {path}: {node}"
            checked += 1
    assert checked > len(docs), checked  # occurred_at at least, in every event type
