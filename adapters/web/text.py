"""Free text for people on a web page: made visible (control characters, bidi overrides and
ANSI escapes shown as escapes) by the project's one function, then HTML-escaped by the
templates' autoescape."""

from __future__ import annotations

try:
    from replay.printable import printable
except ImportError:  # replay/printable.py (issue 14 item 5) is not on this branch yet
    import unicodedata

    def printable(text: object) -> str:
        """Control, format (bidi) and other invisible characters as visible escapes."""
        if text is None:
            return ""
        out = []
        for ch in str(text):
            if ch == "\n":
                out.append("\\n")
            elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
                out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return "".join(out)
