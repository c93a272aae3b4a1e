"""The submission gate in MongoDB: one document per account holding its slots and claims, and
`intake.domain.submission_gate.admit` applied to it by compare-and-set on its version: a
submission's idempotency claim and its rate-limit slot are one read and one write.

(One find-and-update with an update pipeline would be one round trip, but the embedded
SecantusDB does not apply concurrent pipeline updates of one document atomically: two
replicas' submissions lost each other's slots in the tests. A filter on the version is.)"""

from __future__ import annotations

import asyncio
import random

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from intake.domain.ratelimit import Slot
from intake.domain.submission_gate import GateClaim, GateRequest, GateState, admit
from shared.kafka.records import TransientError
from shared.mongo import Document


def _claim_document(claim: GateClaim) -> Document:
    return {
        "token": claim.token,
        "key": claim.key,
        "fp": claim.fingerprint,
        "plan": claim.plan,
        "at": claim.claimed_at,
        "key_until": claim.key_until,
        "fp_until": claim.fingerprint_until,
        "abandoned": claim.abandoned,
    }


def _state(doc: Document | None) -> GateState:
    if doc is None:
        return GateState()
    return GateState(
        slots=tuple(Slot(s["id"], s["at"]) for s in doc.get("slots", ())),
        claims=tuple(
            GateClaim(
                token=c["token"],
                key=c["key"],
                fingerprint=c["fp"],
                plan=c["plan"],
                claimed_at=c["at"],
                key_until=c["key_until"],
                fingerprint_until=c["fp_until"],
                abandoned=c.get("abandoned", False),
            )
            for c in doc.get("claims", ())
        ),
    )


class MongoSubmissionGate:
    """`admit` decided on the state read, written only if the state is still the version
    read (compare-and-set), so concurrent submissions on any replica never take more slots
    than the limit nor claim one key twice. A recognised retry or a refusal writes nothing."""

    def __init__(self, collection: AsyncCollection[Document], max_attempts: int = 50) -> None:
        self._gates = collection
        self._max_attempts = max_attempts

    async def ensure_indexes(self) -> None:
        # An account quiet for longer than every window and TTL has nothing left that counts.
        await self._gates.create_index("expires_at", expireAfterSeconds=0)

    async def admit(self, request: GateRequest) -> GateState:
        for _ in range(self._max_attempts):
            doc = await self._gates.find_one({"_id": request.account_id})
            before = _state(doc)
            after = admit(before, request)
            if request.token not in {c.token for c in after.claims}:
                return after  # recognised or refused: nothing to write
            fields = _state_document(after) | {"expires_at": request.expires_at}
            if doc is None:
                try:
                    await self._gates.insert_one(
                        {"_id": request.account_id, "version": 1, **fields}
                    )
                except DuplicateKeyError:
                    continue  # another submission created it first: read again
                return after
            result = await self._gates.update_one(
                {"_id": request.account_id, "version": doc.get("version", 0)},
                {"$set": fields, "$inc": {"version": 1}},
            )
            if result.modified_count == 1:
                return after
            # Lost the race: back off a little so the contenders spread out, then re-read.
            await asyncio.sleep(random.uniform(0, 0.02))  # noqa: S311 - jitter, not crypto
        raise TransientError(f"submission gate of {request.account_id} too contended; retry")

    async def abandon(self, account_id: str, token: str) -> None:
        await self._gates.update_one(
            {"_id": account_id, "claims.token": token},
            {"$set": {"claims.$.abandoned": True}, "$inc": {"version": 1}},
        )


def _state_document(state: GateState) -> Document:
    return {
        "slots": [{"id": s.slot_id, "at": s.taken_at} for s in state.slots],
        "claims": [_claim_document(c) for c in state.claims],
    }
