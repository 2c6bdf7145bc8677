"""Per-key rate limiting: a token bucket for each API key id, held in this process.

The buckets live in process memory, so with several processes (or replicas) each one allows the
full rate; a limit shared across processes would need the database or Redis.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class KeyRateLimiter:
    """``per_minute`` requests a minute per key on average, with bursts of up to ``burst``."""

    def __init__(
        self, *, per_minute: int, burst: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.rate_per_s = per_minute / 60.0
        # A burst of at least one request, or no request could ever pass.
        self.capacity = float(max(1, burst or per_minute))
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}
        # Endpoints run in the event loop, but sync code in threads may authenticate too.
        self._lock = threading.Lock()

    def acquire(self, key_id: int) -> int | None:
        """Take a token for the key: None if allowed, else whole seconds until one is free."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.setdefault(key_id, _Bucket(self.capacity, now))
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.updated) * self.rate_per_s
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_s))
