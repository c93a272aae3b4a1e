"""The one-time account-recovery link: `<recovery id>.<tag>`, the tag an HMAC of the id with a
secret only the notifier (who mails the link) and the intake (who honours it) know. The id is
random (128 bits) and names a record in the intake's store that says whose it is, until when
it works and whether it was used; the tag makes a link unforgeable without that store. The
link never travels on Kafka: the event carries the id, the notifier signs it. Standard
library only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TAG_LENGTH = 32  # hex digits: 128 bits
_TOKEN = re.compile(r"^(?P<id>[A-Za-z0-9_-]{22,64})\.(?P<tag>[0-9a-f]{32})$")


def new_recovery_id() -> str:
    return secrets.token_urlsafe(16)


def _tag(recovery_id: str, secret: str) -> str:
    message = f"account-recovery:{recovery_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:TAG_LENGTH]


def recovery_token(recovery_id: str, secret: str) -> str:
    return f"{recovery_id}.{_tag(recovery_id, secret)}"


def recovery_id_of(token: str, secret: str) -> str | None:
    """The recovery id a token was made for, or None (malformed or forged); constant time."""
    match = _TOKEN.fullmatch(token.strip())
    if match is None or not hmac.compare_digest(match["tag"], _tag(match["id"], secret)):
        return None
    return match["id"]
