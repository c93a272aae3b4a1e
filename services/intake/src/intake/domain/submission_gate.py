"""Admitting a new request (pure): the idempotency claim and the rate-limit slot of a
submission in one decision over one per-account state, so the store can make it in one atomic
write (`intake.adapters.submission_gate` expresses `admit` as one MongoDB update).

The account's state holds its live slots (the sliding window of `intake.domain.ratelimit`) and
its recent claims: each names the client's Idempotency-Key (its digest; for a day), the
submission's fingerprint (for the duplicate window) and the plan — the ticket id and event id
the request is created with. A submission that finds a matching claim carries out that plan
instead of its own, so however many retries arrive, whenever, one request is created (the
ticket record's unique id decides between twins). The rate limit bounds the claims an account
can hold: they take a slot each.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from intake.domain.ratelimit import Slot, take_slot


@dataclass(frozen=True, slots=True)
class GateClaim:
    token: str  # the attempt that claimed it (its slot has the same id)
    key: str | None  # digest of the Idempotency-Key
    fingerprint: str
    plan: dict[str, str]  # ticket_id, event_id
    claimed_at: datetime
    key_until: datetime  # the key names this request until then
    fingerprint_until: datetime  # the same content is this request until then
    abandoned: bool = False  # its attempt recorded the request but gave up publishing

    def live(self, now: datetime) -> bool:
        return self.key_until > now or self.fingerprint_until > now


@dataclass(frozen=True, slots=True)
class GateState:
    slots: tuple[Slot, ...] = ()
    claims: tuple[GateClaim, ...] = ()


@dataclass(frozen=True, slots=True)
class GateRequest:
    account_id: str
    token: str
    key: str | None
    fingerprint: str
    plan: dict[str, str]
    now: datetime
    key_ttl: timedelta
    duplicate_window: timedelta
    limit: int
    window: timedelta

    @property
    def claim(self) -> GateClaim:
        return GateClaim(
            token=self.token,
            key=self.key,
            fingerprint=self.fingerprint,
            plan=self.plan,
            claimed_at=self.now,
            key_until=self.now + self.key_ttl if self.key else self.now,
            fingerprint_until=self.now + self.duplicate_window,
        )

    @property
    def expires_at(self) -> datetime:
        """When the whole state may go: nothing in it counts any more."""
        return self.now + max(self.key_ttl, self.duplicate_window, self.window)

    def matches(self, claim: GateClaim) -> bool:
        """A keyed submission is its key's request; a keyless one is any recent request with
        the same content (a keyed request counts for keyless duplicates too)."""
        if self.key is not None:
            return claim.key == self.key and claim.key_until > self.now
        return claim.fingerprint == self.fingerprint and claim.fingerprint_until > self.now


def admit(state: GateState, request: GateRequest) -> GateState:
    """The state after the request: expired slots and claims dropped; a new claim and slot
    only if no claim matches and a slot is free. The store's one atomic write does this."""
    now = request.now
    slots = tuple(s for s in state.slots if s.taken_at > now - request.window)
    claims = tuple(c for c in state.claims if c.live(now))
    if any(request.matches(c) for c in claims) or len(slots) >= request.limit:
        return GateState(slots, claims)
    return GateState((*slots, Slot(request.token, now)), (*claims, request.claim))


@dataclass(frozen=True, slots=True)
class Admitted:
    claim: GateClaim


@dataclass(frozen=True, slots=True)
class Existing:
    claim: GateClaim  # an earlier attempt's: carry out its plan


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key names another request (another fingerprint)."""


@dataclass(frozen=True, slots=True)
class Limited:
    retry_after_seconds: int


Verdict = Admitted | Existing | KeyReused | Limited


def judge(after: GateState, request: GateRequest) -> Verdict:
    """What the state after `admit` says about the request."""
    for claim in after.claims:
        if claim.token == request.token:
            return Admitted(claim)
    for claim in after.claims:
        if request.matches(claim):
            if request.key is not None and claim.fingerprint != request.fingerprint:
                return KeyReused()
            return Existing(claim)
    decision = take_slot(
        after.slots,
        now=request.now,
        limit=request.limit,
        window=request.window,
        slot_id=request.token,
    )
    return Limited(decision.retry_after_seconds)


def abandoned(state: GateState, token: str) -> GateState:
    """The attempt recorded the request but could not publish it: a retry publishes it."""
    return replace(
        state,
        claims=tuple(replace(c, abandoned=True) if c.token == token else c for c in state.claims),
    )
