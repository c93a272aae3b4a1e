"""What an e-mail to a request's reply address says, and whether it may add to the request
(pure: it reads a parsed message, it does no I/O).

- Machines do not write to requests: auto-replies and bounces (RFC 3834 `Auto-Submitted`,
  `Precedence: bulk|auto_reply|junk|list`, an empty envelope sender, `X-Autoreply`,
  `X-Autorespond`, delivery reports) are dropped, so no two systems answer each other forever.
- Only the account's own address adds to its request: the From header and the envelope sender,
  compared normalised, must both be the directory's address; with authentication required,
  the trusted receiving MTA's `Authentication-Results` must show DMARC pass, or DKIM pass for
  the From domain (aligned).
- What is added is the new text only: text/plain preferred, HTML turned into plain text
  (`inscriptis`: markup is never kept, so a script is inert), quoted history and signatures
  stripped (`mail-parser-reply`, in the languages the exchange's customers write).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

import authres  # type: ignore[import-untyped]
from inscriptis import get_text  # type: ignore[import-untyped]
from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]

# The languages mail-parser-reply knows that the exchange's customers write in.
REPLY_LANGUAGES = ("en", "de", "es", "fr", "it", "nl", "pl", "sv", "da", "cs")
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "auto_reply", "junk", "list"})


def normalise_address(value: str | None) -> str:
    """The address part, lower-cased: `Alice <Alice@Example.COM>` is `alice@example.com`."""
    if not value:
        return ""
    addresses = getaddresses([value])
    if len(addresses) != 1:
        return ""  # no sender, or several: not one account's
    _, address = addresses[0]
    return address.strip().lower() if "@" in address else ""


def automatic_reason(message: EmailMessage, envelope_sender: str) -> str | None:
    """Why a message is a machine's (None: a person wrote it)."""
    if not envelope_sender.strip("<> "):
        return "bounce (empty envelope sender)"
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto.split(';')[0]}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in _AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond"):
        if header in message:
            return header
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    return None


@dataclass(frozen=True, slots=True)
class Authentication:
    """What the trusted receiving MTA found (RFC 8601 Authentication-Results)."""

    dmarc_pass: bool
    aligned_dkim_pass: bool

    @property
    def passes(self) -> bool:
        return self.dmarc_pass or self.aligned_dkim_pass


def _aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one is a subdomain of the other."""
    d, f = signing_domain.lower().strip("."), from_domain.lower().strip(".")
    return d == f or f.endswith("." + d) or d.endswith("." + f)


def authentication(
    message: EmailMessage, trusted_servers: frozenset[str], from_domain: str
) -> Authentication:
    """Only results the trusted server added count: a sender can write any header it likes."""
    dmarc = dkim = False
    for raw in message.get_all("Authentication-Results", []):
        try:
            header = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {raw}")
        except Exception:  # noqa: S112 - a garbled header proves nothing; the next may
            continue
        if str(header.authserv_id).lower() not in trusted_servers:
            continue
        for result in header.results:
            method, verdict = str(result.method).lower(), str(result.result).lower()
            if method == "dmarc" and verdict == "pass":
                dmarc = True
            if method == "dkim" and verdict == "pass":
                domain = str(getattr(result, "header_d", "") or "")
                dkim = dkim or bool(domain and _aligned(domain, from_domain))
    return Authentication(dmarc_pass=dmarc, aligned_dkim_pass=dkim)


def new_text(message: EmailMessage) -> str:
    """The customer's new words: the plain-text body (or the HTML one as text), without the
    quoted mail it answers or the signature."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else ""
    if part.get_content_type() == "text/html":
        text = get_text(text)
    reply = EmailReplyParser(languages=list(REPLY_LANGUAGES)).parse_reply(text)
    return (reply if reply is not None else text).strip()


@dataclass(frozen=True, slots=True)
class RawAttachment:
    filename: str | None
    data: bytes


def attachments(message: EmailMessage) -> list[RawAttachment]:
    """The files a message carries (inline images count; the text bodies do not)."""
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found.append(RawAttachment(part.get_filename(), payload))
    return found
