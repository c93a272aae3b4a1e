"""A support team's queue: the requests that need work, urgent first, then oldest first (pure).

Each stored request carries the keys the queue is read by, so a page is one equality and one
range on an index: `queue` (team and bucket: `work` for new, open and on-hold, `pending` for
those waiting on the customer; none once solved) and `queue_key` (`0|…` urgent, `1|…`
normal, then the creation sort key), plus `queue_assignee` (the same with the assignee, `-`
for nobody) for an agent's own queue or the unassigned ones.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from history.domain.listing import sort_key
from shared.contracts.events import TICKET_ID_PATTERN, Priority
from shared.contracts.statuses import Status

_CURSOR_VERSION = "q1"
UNASSIGNED = "-"
_KEY = re.compile(r"^[01]\|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\|" + TICKET_ID_PATTERN[1:])


class Bucket(StrEnum):
    WORK = "work"  # new, open, on-hold: the team's move
    PENDING = "pending"  # waiting on the customer


BUCKET_STATUSES: dict[Bucket, frozenset[Status]] = {
    Bucket.WORK: frozenset({Status.NEW, Status.OPEN, Status.ON_HOLD}),
    Bucket.PENDING: frozenset({Status.PENDING}),
}


class InvalidQueueQueryError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def bucket_of(status: Status) -> Bucket | None:
    return next((b for b, statuses in BUCKET_STATUSES.items() if status in statuses), None)


def queue_of(team: str | None, status: Status) -> str | None:
    bucket = bucket_of(status)
    return f"{team}|{bucket.value}" if team and bucket else None


def queue_key(priority: Priority, created_at: datetime, ticket_id: str) -> str:
    rank = "0" if priority is Priority.URGENT else "1"
    return f"{rank}|{sort_key(created_at, ticket_id)}"


@dataclass(frozen=True, slots=True)
class QueueQuery:
    team: str
    bucket: Bucket = Bucket.WORK
    statuses: frozenset[Status] | None = None  # within the bucket; None: all of it
    priority: Priority | None = None
    assignee: str | None = None  # an agent's own; UNASSIGNED: nobody's
    limit: int = 50
    after: str | None = None  # the queue key of the last item of the previous page

    @property
    def queue(self) -> str:
        return f"{self.team}|{self.bucket.value}"

    def key_range(self) -> tuple[str, str]:
        """[low, high) of queue keys: a priority is a prefix, the cursor a lower bound."""
        low, high = "", "2"
        if self.priority is not None:
            rank = "0" if self.priority is Priority.URGENT else "1"
            low, high = f"{rank}|", f"{rank}}}"  # "}" sorts after every key character
        if self.after is not None and self.after >= low:
            low = self.after + "\x00"
        return low, high


def choose_bucket(statuses: frozenset[Status]) -> tuple[Bucket, frozenset[Status] | None]:
    """The bucket a status filter reads, and the statuses to keep within it."""
    if not statuses:
        return Bucket.WORK, None
    buckets = {bucket_of(s) for s in statuses}
    if None in buckets:
        raise InvalidQueueQueryError(
            "query.status", "a queue holds new, open, on-hold and pending requests only"
        )
    if len(buckets) > 1:
        raise InvalidQueueQueryError(
            "query.status", "pending requests are listed apart: ask for them alone"
        )
    (bucket,) = buckets
    assert bucket is not None
    whole = statuses == BUCKET_STATUSES[bucket]
    return bucket, None if whole else statuses


def encode_cursor(query: QueueQuery, key: str) -> str:
    raw = f"{_CURSOR_VERSION}|{query.queue}|{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: QueueQuery) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidQueueQueryError("query.cursor", "not a cursor this service issued") from exc
    version, _, rest = raw.partition("|")
    team, _, rest = rest.partition("|")
    bucket, _, key = rest.partition("|")
    if version != _CURSOR_VERSION or not _KEY.fullmatch(key):
        raise InvalidQueueQueryError("query.cursor", "not a cursor this service issued")
    if f"{team}|{bucket}" != query.queue:
        raise InvalidQueueQueryError(
            "query.cursor", "the cursor belongs to another queue; start again without it"
        )
    return key
