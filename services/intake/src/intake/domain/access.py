"""Who may see what (pure). Roles are plain strings here so the domain needs no web framework."""

from __future__ import annotations

AGENT = "agent"
CUSTOMER = "customer"


def may_read_ticket_files(role: str, reader_id: str, owner_id: str) -> bool:
    """The owner and agents; nobody else (a dashboard reads aggregates only)."""
    if role == AGENT:
        return True
    return role == CUSTOMER and reader_id == owner_id
