"""The per-request address a customer answers an e-mail at: `request+<ticket id>.<tag>@<reply
domain>`, the tag an HMAC of the ticket id with a secret only the notifier (who writes it)
and the intake's mail receiver (who reads it) know. An address cannot be guessed from a
ticket id, nor one request's turned into another's. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.utils import parseaddr

TAG_LENGTH = 16  # hex digits: 64 bits, far beyond guessing at the rate a receiver accepts mail
_LOCAL = re.compile(
    r"^request\+(?P<ticket>[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})\.(?P<tag>[0-9a-f]+)$"
)


def _tag(ticket_id: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), ticket_id.upper().encode(), hashlib.sha256).hexdigest()
    return digest[:TAG_LENGTH]


def reply_address(ticket_id: str, secret: str, domain: str) -> str:
    return f"request+{ticket_id.lower()}.{_tag(ticket_id, secret)}@{domain}"


def ticket_of(address: str, secret: str, domain: str) -> str | None:
    """The ticket id an address was made for, or None (another domain, no tag, a forged or
    another request's tag). Compared in constant time."""
    local, _, host = parseaddr(address)[1].rpartition("@")
    if host.lower() != domain.lower():
        return None
    match = _LOCAL.fullmatch(local.lower())
    if match is None:
        return None
    ticket_id = match["ticket"].upper()
    if not hmac.compare_digest(match["tag"], _tag(ticket_id, secret)):
        return None
    return ticket_id
