"""What one sweep round did, and how a round works through its claimed orders.

Every sweep returns a :class:`SweepRound`: how many things it handled, by outcome, so the
worker can log it and tests can assert on it::

    >>> round_ = SweepRound.of(["paid", "not_paid", "not_paid"])
    >>> round_.done, round_.outcomes["not_paid"]
    (3, 2)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["CONCURRENCY", "SweepRound", "gather_limited"]

#: How many orders one worker asks WeChat about at once.
CONCURRENCY = 8

T = TypeVar("T")


@dataclass(frozen=True)
class SweepRound:
    """The outcome of each item a sweep handled (``paid``, ``closed``, ``error``…)."""

    outcomes: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, outcomes: Iterable[str]) -> SweepRound:
        """A round from a list of outcomes."""
        return cls(Counter(outcomes))

    @property
    def done(self) -> int:
        """How many items the round handled, whatever came of them."""
        return sum(self.outcomes.values())


async def gather_limited(
    items: Sequence[T], work: Callable[[T], Awaitable[str]], *, limit: int = CONCURRENCY
) -> SweepRound:
    """Run ``work`` on every item, at most ``limit`` at a time; the outcomes as a round.

    >>> async def twice(n: int) -> str:
    ...     return "even" if n % 2 == 0 else "odd"
    >>> asyncio.run(gather_limited([1, 2, 3], twice)).outcomes["odd"]
    2
    """
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> str:
        async with gate:
            return await work(item)

    return SweepRound.of(await asyncio.gather(*(one(item) for item in items)))
