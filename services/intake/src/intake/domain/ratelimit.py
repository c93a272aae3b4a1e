"""How many new requests an account may open (pure): a sliding window of slots.

A sliding window rather than a fixed hourly counter, so a burst at the turn of the hour cannot
double the allowance, and Retry-After can say exactly when the next slot frees.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Slot:
    slot_id: str
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    slots: tuple[Slot, ...]  # what to store: the live slots, plus the new one when allowed
    retry_after_seconds: int = 0


def take_slot(
    slots: Iterable[Slot], *, now: datetime, limit: int, window: timedelta, slot_id: str
) -> RateDecision:
    live = tuple(sorted((s for s in slots if s.taken_at > now - window), key=lambda s: s.taken_at))
    if len(live) < limit:
        return RateDecision(True, (*live, Slot(slot_id, now)))
    if limit <= 0:
        return RateDecision(False, live, max(1, math.ceil(window.total_seconds())))
    # The slot that must expire before one is free again (normally the oldest).
    freeing = live[len(live) - limit]
    wait = (freeing.taken_at + window - now).total_seconds()
    return RateDecision(False, live, max(1, math.ceil(wait)))
