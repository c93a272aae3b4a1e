"""Claim before work: the first request to insert the claim (unique _id) does the work, every
concurrent or later twin waits for its stored answer and repeats it.

Only a success is stored. A request that failed (rate limited, Kafka away) releases its claim,
so its retry does the work afresh rather than repeating a stale error.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
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

    async def claim(self, record_id: str, fingerprint: str, ttl: timedelta) -> Claimed | Replayed:
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
            )
            if await self.store.insert(record):
                return Claimed(record_id, token)
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
                if await self.store.replace(record_id, existing.token, record):
                    log.info("idempotency claim taken over", expired=existing.expires_at <= now)
                    return Claimed(record_id, token)
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
        await self.store.release(claim.record_id, claim.token)

    async def remember(
        self, record_id: str, fingerprint: str, response: dict[str, Any], ttl: timedelta
    ) -> None:
        """Record an answer under another id too (an insert; an existing record wins)."""
        now = self.now()
        await self.store.insert(
            IdempotencyRecord(
                record_id=record_id,
                fingerprint=fingerprint,
                token=uuid4().hex,
                state=RecordState.DONE,
                lease_until=now,
                expires_at=now + ttl,
                response=response,
            )
        )
