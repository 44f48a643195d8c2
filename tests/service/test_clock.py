"""The evaluator's clocks: a manual one moves only when told, the wall clock waits for real."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from service.clock import ManualClock, WallClock

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_manual_clock_stands_still_until_advanced():
    clock = ManualClock(START)
    assert clock.now() == START and clock.monotonic() == 0.0
    clock.advance(1.5)
    assert clock.now() == START + timedelta(seconds=1.5)
    assert clock.monotonic() == 1.5 and clock.time() == START.timestamp() + 1.5
    with pytest.raises(ValueError):
        clock.advance(-1)


async def test_a_manual_wait_ends_when_its_time_has_passed_on_the_clock():
    clock, event = ManualClock(START), asyncio.Event()
    wait = asyncio.create_task(clock.wait(event, 1.0))
    for _ in range(5):
        await asyncio.sleep(0)
    clock.advance(0.5)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not wait.done()  # half its time
    clock.advance(0.5)
    async with asyncio.timeout(5):
        assert await wait is False


async def test_a_manual_wait_ends_when_its_event_is_set():
    clock, event = ManualClock(START), asyncio.Event()
    wait = asyncio.create_task(clock.wait(event, 1.0))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not wait.done()
    event.set()
    async with asyncio.timeout(5):
        assert await wait is True


async def test_the_wall_clock_waits_for_the_event_or_the_timeout():
    clock, event = WallClock(), asyncio.Event()
    assert await clock.wait(event, 0.01) is False
    event.set()
    assert await clock.wait(event, 60) is True
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=60)
