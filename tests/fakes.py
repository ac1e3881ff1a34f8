"""Test doubles for time: a clock that moves only when slept on."""

from __future__ import annotations


class FakeTime:
    """A monotonic clock that advances only by sleeps, and the list of sleeps asked for."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
