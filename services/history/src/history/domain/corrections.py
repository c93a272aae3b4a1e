"""Agents' transfers as labelled examples for the router (pure): each moved request's text,
masked, with the team it ended in, the customer's pick and the decision it was moved from.

Masked before it leaves the projection: e-mail addresses, web addresses, long hexadecimal or
base58 strings (wallet addresses, transaction hashes, keys), every number, and the words of
the account holder's name from the directory. What stays is what the model learns from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from history.domain.projection import RequestView

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b(https?://|www\.)\S+", re.IGNORECASE), "<url>"),
    # A wallet address, a transaction hash, an API key: long runs of letters and digits.
    (re.compile(r"\b(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{20,}\b"), "<id>"),
    # Whole numbers only: "2FA" and "TRC20" are words the router learns from.
    (re.compile(r"\b\d+([.,]\d+)*\b"), "<number>"),
)
COLUMNS = (
    "text",
    "team",
    "customer_category",
    "original_team",
    "original_reason",
    "transfers",
    "ticket_id",
)


def mask(text: str, names: Iterable[str] = ()) -> str:
    for pattern, token in _MASKS:
        text = pattern.sub(token, text)
    for name in {n for n in names if len(n) > 1}:
        text = re.sub(rf"\b{re.escape(name)}\b", "<name>", text, flags=re.IGNORECASE)
    return text


@dataclass(frozen=True, slots=True)
class Correction:
    text: str
    team: str
    """Where agents put it last: the label."""
    customer_category: str
    original_team: str
    original_reason: str
    transfers: int
    ticket_id: str

    def row(self) -> tuple[str, ...]:
        return (
            self.text,
            self.team,
            self.customer_category,
            self.original_team,
            self.original_reason,
            str(self.transfers),
            self.ticket_id,
        )


def correction_of(view: RequestView, display_name: str = "") -> Correction | None:
    """The request as a labelled example, if agents moved it (None otherwise)."""
    if not view.transfers or view.team is None:
        return None
    first = view.transfers[0]
    text = "\n".join(part for part in (view.subject, view.description) if part)
    return Correction(
        text=mask(text, display_name.split()),
        team=view.team,
        customer_category=view.category or "",
        original_team=first.from_team,
        original_reason=first.original_reason,
        transfers=len(view.transfers),
        ticket_id=view.ticket_id,
    )
