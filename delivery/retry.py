"""The retry decision: after a retryable failure, wait how long, or give up.

    delay = next_delay(policy, attempt=2, elapsed=4.1, retry_after=None)
    # seconds to wait before attempt 3, or None: the delivery is dead

Retry k waits `base * factor**(k-1)` capped at `max_delay`, with "equal jitter" (a
uniform draw from the upper half) so a burst of failures does not retry in lockstep.
A `Retry-After` longer than that is honoured as it is. Giving up happens after
`max_attempts` attempts or when the next attempt would start later than `max_age` after
the first one.
"""

from __future__ import annotations

import random

from delivery.settings import RetryPolicy


def backoff(policy: RetryPolicy, retry: int, rng: random.Random | None = None) -> float:
    """The jittered wait before retry number `retry` (1 = the second attempt)."""
    ceiling = min(policy.base * policy.factor ** (retry - 1), policy.max_delay)
    draw = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2


def next_delay(
    policy: RetryPolicy,
    *,
    attempt: int,
    elapsed: float,
    retry_after: float | None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds before attempt `attempt + 1`, or None when the delivery must give up."""
    if attempt >= policy.max_attempts:
        return None
    delay = backoff(policy, attempt, rng)
    if retry_after is not None:
        delay = max(delay, retry_after)
    if elapsed + delay > policy.max_age:
        return None
    return delay
