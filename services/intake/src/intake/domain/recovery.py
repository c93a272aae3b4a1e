"""Account recovery for a customer locked out by 2FA (pure): a one-time grant to file one
request in the 2FA category, sent as a link to the account's own address.

A grant names its account and lives for minutes. It is used once: the first submission
claims it (a claim older than its lease was a crash, and may be taken over), and a filed
request makes it used for good. Whoever holds a link can do that one thing and nothing
else: no reading, no other category, no second request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class LinkState(StrEnum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class RecoveryGrant:
    recovery_id: str
    account_id: str
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None = None
    ticket_id: str | None = None

    def state(self, now: datetime, lease: timedelta) -> LinkState:
        if self.ticket_id is not None:
            return LinkState.USED
        if self.claimed_at is not None and now - self.claimed_at < lease:
            return LinkState.USED  # a submission is being filed with it right now
        if now >= self.expires_at:
            return LinkState.EXPIRED
        return LinkState.VALID


def state_of(grant: RecoveryGrant | None, now: datetime, lease: timedelta) -> LinkState:
    return LinkState.INVALID if grant is None else grant.state(now, lease)


def normalise_email(value: str) -> str:
    return value.strip().lower()


def address_key(email: str) -> str:
    """What the per-address limit counts by: a hash, so the store holds no address."""
    return "address:" + hashlib.sha256(normalise_email(email).encode()).hexdigest()


def client_key(client: str) -> str:
    return f"client:{client}"


def may_recover(kind: str, email_verified: bool) -> bool:
    """Only a customer's (or a corporate customer's) verified address gets a link: an
    unverified address may be anyone's, and agents recover through their own IT."""
    return email_verified and kind in ("customer", "corporate")
