"""A small circuit breaker: after `threshold` failures in a row the circuit opens and calls fail at once (503) for
`reset_after` seconds; then one trial call decides (closed again on success, open again on failure)."""

import time


class BreakerOpen(Exception):
    pass


class Breaker:
    def __init__(self, name, threshold=3, reset_after=5.0, clock=time.monotonic):
        self.name, self.threshold, self.reset_after, self._clock = name, threshold, reset_after, clock
        self.failures, self.opened_at, self._trial = 0, None, False

    @property
    def state(self):
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.reset_after else "open"

    def before(self):
        """Raise BreakerOpen unless a call may go through now (closed, or the one trial of half-open)."""
        state = self.state
        if state == "open" or (state == "half-open" and self._trial):
            raise BreakerOpen("%s: circuit open after %d failures; retried in %.0f s"
                              % (self.name, self.failures, self.reset_after))
        if state == "half-open":
            self._trial = True

    def success(self):
        self.failures, self.opened_at, self._trial = 0, None, False

    def failure(self):
        self.failures += 1
        self._trial = False
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = self._clock()
