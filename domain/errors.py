"""Refusals: a command that would break the model records nothing and says why."""

from __future__ import annotations


class Refused(ValueError):
    """A command the ledger will not record.

    The message names the command, what is wrong and what would be right.
    """

    def __init__(self, command: str, wrong: str, right: str = "") -> None:
        self.command, self.wrong, self.right = command, wrong, right
        text = f"{command}: {wrong}"
        if right:
            text += f"; {right}"
        super().__init__(text)
