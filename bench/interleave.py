"""A/B on a shared machine: each side's work cut into chunks, the chunks run in turn.

A side is an iterator that does one chunk of its work per step and yields the seconds that chunk
took (what it does before its first chunk, such as opening a store, is not counted). Run side by
side, both sides meet the same disturbances of a shared machine (another process's burst, a slow
fsync), so their ratio holds where two runs one after the other drifted apart: a ratio near its
line flipped between runs (write path on PostgreSQL 0.495-0.543, tree / plain recording
0.86-1.14 on SQLite, measured back to back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

Round = TypeVar("Round")


def side_by_side(sides: Mapping[str, Iterator[float]]) -> dict[str, float]:
    """Seconds each side took in all, its chunks run in turn with the others' (the order of each
    turn reversed the next time, so no side always runs right after the same one)."""
    spent = dict.fromkeys(sides, 0.0)
    running = dict(sides)
    turn = 0
    while running:
        names = list(running) if turn % 2 == 0 else list(reversed(running))
        for name in names:
            try:
                spent[name] += next(running[name])
            except StopIteration:
                del running[name]
        turn += 1
    return spent


def median_round(rounds: Sequence[Round], ratio: Callable[[Round], float]) -> Round:
    """The round whose ratio is the median (the upper one of an even count): its own figures are
    kept together, not medians taken of each figure apart."""
    return sorted(rounds, key=ratio)[len(rounds) // 2]
