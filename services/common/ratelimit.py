"""Rate limiting: a token bucket per caller, held in this process. The caller is an API key's id
on the keyed routes (services/common/auth.py) and the client's address on the public ones, which
need no key (services/targets_api/public/).

The buckets live in process memory, so with several processes (or replicas) each one allows the
full rate; a limit shared across processes would need the database or Redis.
"""

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from services.common.errors import TooManyRequests


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``per_minute`` requests a minute per caller on average, with bursts of up to ``burst``."""

    def __init__(
        self, *, per_minute: int, burst: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.rate_per_s = per_minute / 60.0
        # A burst of at least one request, or no request could ever pass.
        self.capacity = float(max(1, burst or per_minute))
        self.clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        # Endpoints run in the event loop, but sync code in threads may authenticate too.
        self._lock = threading.Lock()

    def acquire(self, caller: Hashable) -> int | None:
        """Take a token for the caller: None if allowed, else whole seconds until one is free."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.setdefault(caller, _Bucket(self.capacity, now))
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.updated) * self.rate_per_s
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_s))

    def enforce(self, caller: Hashable, *, who: str) -> None:
        """Take a token for the caller, or refuse the request with a 429 saying when to retry;
        ``who`` names the caller in the problem ("This key", "This address")."""
        retry_after = self.acquire(caller)
        if retry_after is not None:
            raise TooManyRequests(
                f"{who} is limited to {self.per_minute} requests a minute "
                f"(per process); retry in {retry_after} s.",
                retry_after_s=retry_after,
            )


def app_limiter(state: Any, name: str, *, per_minute: int, burst: int) -> RateLimiter | None:
    """The app's limiter kept as ``state.<name>``, made on first use; None when ``per_minute``
    is 0 (limiting off). One per app, so one per test app too."""
    if not hasattr(state, name):
        setattr(
            state, name, RateLimiter(per_minute=per_minute, burst=burst) if per_minute else None
        )
    return getattr(state, name)


# The keyed routes' name for it, from before the public routes limited by address too.
KeyRateLimiter = RateLimiter
