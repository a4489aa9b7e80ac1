"""Refusals: a command that would break the model records nothing and says why.

The domain writes no language of its own: a refusal keeps its message templates (English,
marked `N_` for the gettext catalogs, as domain/proofs.py's findings do) and their fields, so
that the CLI and the importer write it in the reader's language where they print it
(`Refusal.said(_)`); its exception text stays the English one (logs, JSON, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


def N_(message: str) -> str:  # noqa: N802 - the gettext marker (replay.i18n.N_), for the catalogs
    return message


@dataclass(frozen=True)
class Refusal:
    """Why a command was refused: the command, what is wrong and what would be right, as
    templates with `{name}` fields filled from `params`."""

    command: str
    wrong: str
    right: str = ""
    params: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """In English: `command: wrong; right`."""
        return self.said(_english)

    def said(self, _: Callable[..., str]) -> str:
        """In the language of `_` (replay.i18n.Texts: translates a template, fills its fields)."""
        wrong = _(self.wrong, **self.params)
        if not self.right:
            return _(N_("{command}: {wrong}"), command=self.command, wrong=wrong)
        return _(N_("{command}: {wrong}; {right}"), command=self.command, wrong=wrong,
                 right=_(self.right, **self.params))


def _english(message: str, /, **params: object) -> str:
    return message.format(**params) if params else message


class Explained(Exception):
    """An error for people whose message is a template (marked N_) and its fields, so that it is
    written in the reader's language where it is printed (`said(_)`); its text is the English."""

    def __init__(self, message: str, /, **params: object) -> None:
        self.message, self.params = message, params
        super().__init__(_english(message, **params))

    def said(self, _: Callable[..., str]) -> str:
        """In the language of `_`; a field that is itself Explained (a phrase) is said too."""
        return _(self.message, **{k: v.said(_) if isinstance(v, Explained | Phrase) else v
                                  for k, v in self.params.items()})


class Phrase(str):
    """A text for people kept as a value (an import row's problem, where it is): the string is
    the English; `said(_)` writes its template in the language of `_`, fields that are phrases too."""

    message: str
    params: dict[str, object]

    def __new__(cls, message: str, /, **params: object) -> Phrase:
        phrase = super().__new__(cls, _english(message, **params))
        phrase.message, phrase.params = message, params
        return phrase

    def said(self, _: Callable[..., str]) -> str:
        return _(self.message, **{k: v.said(_) if isinstance(v, Phrase | Explained) else v
                                  for k, v in self.params.items()})


class Refused(ValueError):
    """A command the ledger will not record.

    The message names the command, what is wrong and what would be right: `wrong` and `right`
    are templates (marked N_) whose `{name}` fields `params` fill; `self.wrong` and `self.right`
    are the English texts.
    """

    def __init__(self, command: str, wrong: str, right: str = "", /, **params: object) -> None:
        self.refusal = Refusal(command, wrong, right, params)
        self.command, self.wrong, self.right = command, _english(wrong, **params), _english(right, **params)
        super().__init__(self.refusal.text)

    def __reduce__(self) -> tuple:  # picklable with its fields (the default passes only the text)
        r = self.refusal
        return (_refused, (r.command, r.wrong, r.right, r.params))


def _refused(command: str, wrong: str, right: str, params: dict[str, object]) -> Refused:
    return Refused(command, wrong, right, **params)
