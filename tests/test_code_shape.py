"""Arrows point one way (ARCHITECTURE.md; issue 14 item 22): the CLI's command modules wire
the rest together and nothing below them imports them back. adapters/demo.py called into
`record_calendar`, `demo_dispute_report` and `views_path` of the CLI modules, which import the
demo: a circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND_MODULES = {"adapters.cli.core", "adapters.cli.views", "adapters.cli.stream", "adapters.cli.audit",
                   "adapters.cli.__main__"}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function, as absolute names."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from . import core`
    return found


def test_nothing_below_the_cli_imports_its_command_modules() -> None:
    below = [p for folder in ("adapters", "replay", "projections", "domain") for p in (ROOT / folder).rglob("*.py")
             if "cli" not in p.relative_to(ROOT).parts]
    assert ROOT / "adapters" / "demo.py" in below
    offenders = {str(p.relative_to(ROOT)): sorted(imported_modules(p) & COMMAND_MODULES) for p in below}
    assert {k: v for k, v in offenders.items() if v} == {}
