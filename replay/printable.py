"""Free text as a person may safely see it: one home for escaping what a terminal or a page
would otherwise obey (issue 14, item 5).

Recorded text is the recorder's, not ours: an actor, a site or a description may hold a NUL,
an ANSI escape (`\\x1b[2J` clears a terminal), a carriage return or a newline (which forges a
table row), or a bidi override (`\\u202e` turns the rest of a line around). `printable` shows
each of them as a visible escape, so what is printed is what was recorded and nothing else.
HTML escapes the result with `html.escape` (replay.exhibit, the console's templates); Markdown
escapes its own syntax on top (replay.exhibit).
"""

from __future__ import annotations

# C0 controls, DEL, C1 controls; bidi marks, embeddings, overrides and isolates; the line and
# paragraph separators (a line break in some terminals and editors).
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_INVISIBLE = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
              *range(0x2066, 0x206A), 0x2028, 0x2029]
_ESCAPES = {
    cp: _SHORT.get(chr(cp), f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}") for cp in _INVISIBLE
}


def printable(text: object) -> str:
    """`text` with every control character, bidi control and line separator shown as a visible
    escape (`\\x1b`, `\\u202e`, newlines as `\\n`); everything else, any script, unchanged.
    None is shown as nothing and any other value as its text (a page's empty cell, a number)."""
    if text is None:
        return ""
    return (text if isinstance(text, str) else str(text)).translate(_ESCAPES)
