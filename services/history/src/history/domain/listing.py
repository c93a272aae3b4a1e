"""The My-activities list query: filters, sort order and keyset pagination (pure, no I/O).

Each stored request carries one sort key per sort order, `<time in ms, UTC>|<ticket id>`: a
string that orders like (time, id) and is unique, so a page boundary is a single value. The
opaque cursor is that key of the last item shown, with the sort order it belongs to; the next
page is "keys after this one", which stays stable when new requests arrive.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from history.domain.projection import RequestView
from shared.contracts.events import TICKET_ID_PATTERN
from shared.contracts.statuses import PUBLIC_NAMES, Status

MAX_SEARCH_LENGTH = 100
_CURSOR_VERSION = "v1"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\|" + TICKET_ID_PATTERN[1:])


class SortField(StrEnum):
    CREATED = "created"
    UPDATED = "updated"


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


class InvalidCursorError(ValueError):
    """A cursor we did not issue, or one issued for another sort order."""


class UnknownStatusError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ListQuery:
    account_id: str
    # None: any status; an empty set matches nothing (filters that exclude each other).
    statuses: frozenset[Status] | None = None
    search: str | None = None
    sort: SortField = SortField.CREATED
    order: Order = Order.DESC
    limit: int = 20
    after: str | None = None  # the sort key of the last item of the previous page


@dataclass(frozen=True, slots=True)
class Page:
    items: list[RequestView]
    last_key: str | None  # the sort key of the last item, when another page follows


def sort_key(at: datetime, ticket_id: str) -> str:
    """Fixed width, UTC, milliseconds (what MongoDB stores): sorts as (time, ticket id)."""
    at = at.astimezone(UTC)
    return f"{at.strftime(_TIME_FORMAT)}.{at.microsecond // 1000:03d}Z|{ticket_id}"


def encode_cursor(sort: SortField, order: Order, key: str) -> str:
    raw = f"{_CURSOR_VERSION}|{sort.value}|{order.value}|{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortField, order: Order) -> str:
    """The sort key inside `cursor`; it must belong to the same sort order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError("the cursor is not one this service issued") from exc
    version, _, rest = raw.partition("|")
    cursor_sort, _, rest = rest.partition("|")
    cursor_order, _, key = rest.partition("|")
    if version != _CURSOR_VERSION or not _KEY.fullmatch(key):
        raise InvalidCursorError("the cursor is not one this service issued")
    if (cursor_sort, cursor_order) != (sort.value, order.value):
        raise InvalidCursorError(
            f"the cursor belongs to sort={cursor_sort}&order={cursor_order}; "
            "start again without a cursor to change the order"
        )
    return key


def statuses_for(
    statuses: Iterable[Status] = (), public_names: Iterable[str] = ()
) -> frozenset[Status] | None:
    """The internal statuses a filter selects. Public names ("Awaiting your reply") cover
    several internal ones; both filters given means both must hold."""
    chosen = frozenset(statuses) or None
    names = [n.strip().casefold() for n in public_names if n.strip()]
    if names:
        by_name: dict[str, set[Status]] = {}
        for status, name in PUBLIC_NAMES.items():
            by_name.setdefault(name.casefold(), set()).add(status)
        unknown = [n for n in names if n not in by_name]
        if unknown:
            allowed = ", ".join(public_status_names())
            raise UnknownStatusError(f"unknown status {unknown[0]!r}; one of: {allowed}")
        public = frozenset(s for n in names for s in by_name[n])
        chosen = public if chosen is None else chosen & public
    return chosen


def public_status_names() -> list[str]:
    """Each public name once, in the order of the lifecycle."""
    return list(dict.fromkeys(PUBLIC_NAMES.values()))


def normalise_search(text: str | None) -> str | None:
    """Whitespace collapsed; None when nothing is left. Matched literally, never as a pattern."""
    if text is None:
        return None
    collapsed = " ".join(text.split())[:MAX_SEARCH_LENGTH]
    return collapsed or None
