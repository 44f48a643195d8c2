"""The evaluator's clock: the wall clock in the service, a manual one that tests advance.

    clock = WallClock()
    clock.now()                        # aware UTC datetime: engine time, lease times
    clock.time()                       # epoch seconds: the seq reader's hole grace
    clock.monotonic()                  # seconds for intervals (tick, checkpoint, refresh)
    await clock.wait(event, timeout)   # True once `event` is set, False when `timeout`
                                       # seconds have passed on this clock

    clock = ManualClock(start)         # time stands still until
    clock.advance(seconds)             # moves it on and ends the waits that ran out

With a `ManualClock` an evaluator's loop runs a round only when it is woken (an ingest,
a command, `Evaluator.join()`) or when the test advances the clock past its tick, and
its timers fire when the test says the time has come, however loaded the machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    async def wait(self, event: asyncio.Event, timeout: float) -> bool: ...


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
        # that lands as the wait ends, and a stopping service would wait on the loop for ever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
        return event.is_set()


class ManualClock:
    """Time that moves only when `advance()` is called (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(timezone.utc)
        self._elapsed = 0.0
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def time(self) -> float:
        return self.now().timestamp()

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move time on by `seconds` and wake every wait, which ends if its time is up."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._elapsed += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        deadline = self._elapsed + timeout
        while not event.is_set() and self._elapsed < deadline:
            waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._moved.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        return event.is_set()
