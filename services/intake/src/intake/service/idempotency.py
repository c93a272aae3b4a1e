"""Claim before work: the first request to insert the claim (unique _id) does the work, every
concurrent or later twin waits for its stored answer and repeats it.

A claim carries a plan: the ids the work will use (the ticket id, the event id), chosen when
it was first claimed. Whoever takes an abandoned claim over (its holder crashed, or its
publish was not confirmed in time) carries out the same plan, so the retry publishes the same
request rather than a second one, and consumers recognise the copy by its event id.

Only a success is stored. A request refused before any effect (rate limited, invalid)
releases its claim, so its retry does the work afresh rather than repeating a stale error.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from intake.domain.idempotency import IdempotencyRecord, RecordState, Verdict, judge
from intake.ports import IdempotencyStore
from shared.contracts.events import utcnow
from shared.logging import get_logger

log = get_logger(__name__)


class IdempotencyKeyReusedError(ValueError):
    """The key was first used with another request body."""


class RequestInProgressError(RuntimeError):
    """The first request with this key is still running after we waited."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("a request with this idempotency key is still being processed")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class Claimed:
    record_id: str
    token: str
    plan: dict[str, str]
    taken_over: bool = False  # an earlier attempt may have carried part of the plan out


@dataclass(frozen=True, slots=True)
class Replayed:
    response: dict[str, Any]


@dataclass
class IdempotencyGate:
    store: IdempotencyStore
    lease: timedelta = timedelta(minutes=2)
    wait_seconds: float = 10.0
    poll_seconds: float = 0.05
    now: Callable[[], datetime] = utcnow

    async def claim(
        self, record_id: str, fingerprint: str, ttl: timedelta, plan: dict[str, str]
    ) -> Claimed | Replayed:
        """Claim `record_id` for work under `plan` (or the plan of the claim taken over)."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            now = self.now()
            token = uuid4().hex
            record = IdempotencyRecord(
                record_id=record_id,
                fingerprint=fingerprint,
                token=token,
                state=RecordState.PENDING,
                lease_until=now + self.lease,
                expires_at=now + ttl,
                plan=plan,
            )
            if await self.store.insert(record):
                return Claimed(record_id, token, plan)
            existing = await self.store.get(record_id)
            if existing is None:
                continue  # released between our insert and our read: try again
            verdict = judge(existing, fingerprint, now)
            if verdict is Verdict.REPLAY and existing.response is not None:
                return Replayed(existing.response)
            if verdict is Verdict.MISMATCH:
                raise IdempotencyKeyReusedError(
                    "this Idempotency-Key was already used for a different request; use a new"
                    " key for a new request"
                )
            if verdict is Verdict.RECLAIM:
                # An expired record's plan is stale (its work is long done or gone): a new one.
                inherited = existing.plan if existing.expires_at > now and existing.plan else None
                taken = replace(record, plan=inherited or plan)
                if await self.store.replace(record_id, existing.token, taken):
                    log.info("idempotency claim taken over", expired=existing.expires_at <= now)
                    return Claimed(record_id, token, taken.plan or plan, inherited is not None)
                continue
            # WAIT: the first request is at work; poll for its answer up to our deadline.
            if time.monotonic() >= deadline:
                remaining = (existing.lease_until - now).total_seconds()
                raise RequestInProgressError(max(1, min(5, math.ceil(remaining))))
            await asyncio.sleep(self.poll_seconds)

    async def complete(self, claim: Claimed, response: dict[str, Any], ttl: timedelta) -> None:
        if not await self.store.complete(claim.record_id, claim.token, response, self.now() + ttl):
            # Our lease ran out and a retry took over: it will answer for itself.
            log.warning("idempotency claim lost before completion", record_id=claim.record_id)

    async def release(self, claim: Claimed) -> None:
        """Nothing was done: forget the claim, so a retry starts afresh."""
        await self.store.release(claim.record_id, claim.token)

    async def abandon(self, claim: Claimed) -> None:
        """Something may have been done: end the lease now, keep the plan, so a retry takes
        the claim over at once and finishes the same work."""
        await self.store.abandon(claim.record_id, claim.token, self.now())
