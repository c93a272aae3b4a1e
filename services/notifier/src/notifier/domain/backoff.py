"""When to try a transiently failed e-mail again (pure): exponential backoff, full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6  # the first try included
    base_seconds: float = 2.0
    max_delay_seconds: float = 300.0

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based). Jitter spreads the
        retries of many mails failing together (an SMTP outage) so they do not return as one."""
        ceiling = min(self.max_delay_seconds, self.base_seconds * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)
