"""A clock a test moves by hand, for the code that takes one (``clock=``: the rate limiter, the
peer cache): a test steps through a time window instead of sleeping through it."""


class ManualClock:
    """Monotonic seconds that change only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a monotonic clock never goes back"
        self.now += seconds
