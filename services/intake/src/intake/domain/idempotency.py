"""Recognising a submission we have already answered (pure).

Two ways: the client's `Idempotency-Key` (the key is the request's identity for a day), or,
without a key, the submission's content (the same account sending the same text and files
within a few minutes is a double click or a retry, not a second problem).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

# Printable ASCII without spaces: UUIDs, ULIDs, base64 and the like.
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def submission_fingerprint(
    *,
    account_id: str,
    category: str,
    subject: str,
    description: str,
    attachment_hashes: Iterable[str],
) -> str:
    """The same account, category, text (surrounding white space aside) and files, in any
    order, give the same fingerprint; anything else gives another."""
    canonical = json.dumps(
        {
            "account_id": account_id,
            "category": category,
            "subject": subject.strip(),
            "description": description.strip(),
            "attachments": sorted(attachment_hashes),
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def action_fingerprint(action: str, ticket_id: str, *parts: str) -> str:
    """An action on a request (a comment, a reply, ...): the same action with the same content
    on the same request gives the same fingerprint."""
    canonical = json.dumps([action, ticket_id, *parts], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_digest(key: str) -> str:
    """Keys are stored as digests: what a client sends is not kept."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_record_id(account_id: str, key: str) -> str:
    """Keys are per account: two customers who pick the same key never collide."""
    return f"key:{account_id}:{key_digest(key)}"


class RecordState(StrEnum):
    PENDING = "pending"  # claimed; the winner is doing the work
    DONE = "done"  # the response is stored


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    record_id: str
    fingerprint: str
    token: str  # who holds the claim: only they may complete or release it
    state: RecordState
    lease_until: datetime  # a pending claim older than this was abandoned (a crash)
    expires_at: datetime
    response: dict[str, Any] | None = None
    # The ids the work will use, fixed when first claimed: whoever takes an abandoned claim
    # over carries out the same plan, so a retry after a crash publishes the same request.
    plan: dict[str, str] | None = None


class Verdict(StrEnum):
    RECLAIM = "reclaim"  # expired, or its holder vanished: take it over
    MISMATCH = "mismatch"  # the key was used for another request
    REPLAY = "replay"  # answer with the stored response
    WAIT = "wait"  # another request is doing the work right now


def judge(existing: IdempotencyRecord, fingerprint: str, now: datetime) -> Verdict:
    """What to do about a claim someone else holds."""
    if existing.expires_at <= now:
        return Verdict.RECLAIM  # the TTL monitor has not removed it yet; it no longer counts
    if existing.fingerprint != fingerprint:
        return Verdict.MISMATCH
    if existing.state is RecordState.DONE:
        return Verdict.REPLAY
    if existing.lease_until <= now:
        return Verdict.RECLAIM
    return Verdict.WAIT
