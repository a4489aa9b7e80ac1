"""argparse's own usage errors (`TL-E001`) in the reader's language.

argparse says its messages through the module's `_` and `ngettext`, looked up when it says them.
They are replaced here by functions that look up argparse's error messages in our catalog
(msgids exactly as argparse writes them; argparse fills their %-fields itself). The catalog is read
only when an error is said: the help texts argparse passes through `_` as every parser is built
stay as they are, and cost nothing.

The language is the one asked for (`--lang` in the arguments, else $TICKETLEDGER_LANG), else the
system locale's: the contract's is not known before the arguments are read.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
from collections.abc import Iterable, Sequence

from domain.errors import N_
from replay.i18n import plural, resolve_lang, texts

from .output import LANG_ENV

# Python 3.11's argparse error messages; a message another version words differently stays English.
ERRORS = frozenset({
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("unexpected option string: %s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("can't open '%(filename)s': %(error)s"),
})
PLURAL_ERRORS = frozenset({plural("expected %s argument", "expected %s arguments")[0]})


def speak_usage_errors(argv: Sequence[str]) -> None:
    """Have argparse say its errors in the language `argv` and the environment ask for."""
    lang = _asked[0] = _requested(argv)

    def catalog():  # read on the first error only
        try:
            return texts(resolve_lang(lang)).catalog
        except ValueError:  # an unknown --lang: argparse says so, in English
            return texts("en").catalog

    def gettext(message: str) -> str:
        return catalog().gettext(message) if message in ERRORS else message

    def ngettext(singular: str, plural_: str, n: int) -> str:
        if singular in PLURAL_ERRORS:
            return catalog().ngettext(singular, plural_, n)
        return singular if n == 1 else plural_

    argparse._ = gettext  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]


# argparse's own words in a help page (it passes them through `_` as it builds a parser)
HELP_WORDS = (N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"))


class SaidHelp(argparse.HelpFormatter):
    """A help page in the language asked for: each help text, description and heading is looked
    up in the catalog when the page is written (never when a parser is built), so `--help`
    under `--lang zh_CN` reads in Chinese. A text the catalog lacks stays as written."""

    def _said(self, text: str | None) -> str | None:
        return usage_said(text) if text and text is not argparse.SUPPRESS else text

    def start_section(self, heading: str | None) -> None:
        super().start_section(self._said(heading))

    def add_text(self, text: str | None) -> None:
        super().add_text(self._said(text))

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup], prefix: str | None = None) -> None:
        # argparse passes prefix "" when it builds a subcommand's prog: kept as it is
        super().add_usage(usage, actions, groups, self._said("usage: ") if prefix is None else prefix)

    def _expand_help(self, action: argparse.Action) -> str:
        said = copy.copy(action)
        said.help = self._said(action.help)
        return super()._expand_help(said)

    # argparse wraps by characters; a Chinese character takes two columns of a terminal
    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap_cells(" ".join(text.split()), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in wrap_cells(" ".join(text.split()), width - len(indent)))


_TOKEN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uf900-\ufaff"
                    r"\uff00-\uffef\u3000-\u303f]+|\s+")
_NO_LINE_START = set("，。；：、）》」』！？")


def wrap_cells(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` terminal columns: breaking at spaces between words, and
    between any two Chinese characters (never before a closing full-width mark)."""
    from rich.cells import cell_len

    lines, line, used = [], "", 0
    for token in _TOKEN.findall(text):
        size = cell_len(token)
        if used + size > width and line and not token.isspace() and token not in _NO_LINE_START:
            lines.append(line.rstrip())
            line, used = "", 0
        if token.isspace() and not line:
            continue
        line += token
        used += size
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def usage_said(message: str, **fields: object) -> str:
    """An argparse type's own refusal (`'-3': write a whole number above 0`) in the language
    argparse speaks its errors in, as asked for in the arguments or the environment."""
    try:
        t = texts(resolve_lang(_asked[0]))
    except ValueError:  # an unknown --lang: said in English, as argparse does
        t = texts("en")
    return t(message, **fields)


_asked: list[str | None] = [None]  # the language asked for by the arguments being parsed


def _requested(argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.removeprefix("--lang=")
    return os.environ.get(LANG_ENV) or None

