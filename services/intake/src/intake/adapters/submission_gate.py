"""The submission gate in MongoDB: one document per account, and `intake.domain.submission_gate
.admit` as one atomic find-and-update (an update pipeline), so a submission's idempotency claim
and its rate-limit slot cost one round trip, and concurrent submissions on any replica can
neither take more slots than the limit nor claim one key twice."""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from intake.domain.ratelimit import Slot
from intake.domain.submission_gate import GateClaim, GateRequest, GateState
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


def admit_pipeline(request: GateRequest) -> list[Document]:
    """`admit` as an update pipeline: stage one drops what expired, stage two adds the claim and
    the slot if nothing matches and a slot is free (a stage sees the document as the stage
    before left it)."""
    now = request.now
    if request.key is not None:
        matching: Any = {
            "$and": [{"$eq": ["$$this.key", request.key]}, {"$gt": ["$$this.key_until", now]}]
        }
    else:
        matching = {
            "$and": [
                {"$eq": ["$$this.fp", request.fingerprint]},
                {"$gt": ["$$this.fp_until", now]},
            ]
        }
    admitted = {
        "$and": [
            {"$eq": [{"$size": {"$filter": {"input": "$claims", "cond": matching}}}, 0]},
            {"$lt": [{"$size": "$slots"}, request.limit]},
        ]
    }
    live_claim = {"$or": [{"$gt": ["$$this.key_until", now]}, {"$gt": ["$$this.fp_until", now]}]}
    return [
        {
            "$set": {
                "slots": {
                    "$filter": {
                        "input": {"$ifNull": ["$slots", []]},
                        "cond": {"$gt": ["$$this.at", now - request.window]},
                    }
                },
                "claims": {"$filter": {"input": {"$ifNull": ["$claims", []]}, "cond": live_claim}},
            }
        },
        {
            "$set": {
                "slots": {
                    "$cond": [
                        admitted,
                        {"$concatArrays": ["$slots", [{"id": request.token, "at": now}]]},
                        "$slots",
                    ]
                },
                "claims": {
                    "$cond": [
                        admitted,
                        {
                            "$concatArrays": [
                                "$claims",
                                [{"$literal": _claim_document(request.claim)}],
                            ]
                        },
                        "$claims",
                    ]
                },
                "expires_at": {"$literal": request.expires_at},
            }
        },
    ]


class MongoSubmissionGate:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._gates = collection

    async def ensure_indexes(self) -> None:
        # An account quiet for longer than every window and TTL has nothing left that counts.
        await self._gates.create_index("expires_at", expireAfterSeconds=0)

    async def admit(self, request: GateRequest) -> GateState:
        for _ in range(2):
            try:
                doc = await self._gates.find_one_and_update(
                    {"_id": request.account_id},
                    admit_pipeline(request),
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue  # two first submissions of an account upserted at once: again
            return _state(doc)
        raise RuntimeError("the submission gate's document could not be created")

    async def release(self, account_id: str, token: str) -> None:
        await self._gates.update_one(
            {"_id": account_id}, {"$pull": {"slots": {"id": token}, "claims": {"token": token}}}
        )

    async def abandon(self, account_id: str, token: str) -> None:
        await self._gates.update_one(
            {"_id": account_id, "claims.token": token}, {"$set": {"claims.$.abandoned": True}}
        )
