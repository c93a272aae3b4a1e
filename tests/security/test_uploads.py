"""Misdeclared and polyglot files through the running intake, end to end: what is stored, what
the event says, and how the download is served. (Oversized files, counts and refused types are
covered by services/intake/tests/test_intake_uploads.py; the sniffer's verdicts by
test_intake_attachments.py.)"""

from __future__ import annotations

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_topic

from .security_support import GOOD_TICKET

pytestmark = pytest.mark.e2e

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00pixels\xff\xd9"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
# name, bytes, declared type -> the type judged from the bytes
CASES = [
    ("invoice.pdf", JPEG, "application/pdf", "image/jpeg"),  # misdeclared
    ("photo.jpg", PDF, "image/jpeg", "application/pdf"),  # misdeclared
    ("page.html", SCRIPT, "text/html", "text/plain"),  # markup is served as text
    ("gifar.jpg", JPEG[:-2] + SCRIPT + PDF, "image/jpeg", "image/jpeg"),  # polyglot
    ("x.svg", b"<svg onload=alert(1)>", "image/svg+xml", "text/plain"),
]


async def test_files_are_typed_by_their_bytes_and_served_inert(services: EmbeddedStack) -> None:
    async with httpx.AsyncClient(base_url=services.config.url("intake"), timeout=20) as client:
        response = await client.post(
            "/v1/tickets",
            headers=bearer("acc-1002"),
            data=GOOD_TICKET,
            files=[("attachments", (name, data, declared)) for name, data, declared, _ in CASES],
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        stored = accepted["attachments"]
        assert [a["content_type"] for a in stored] == [judged for *_, judged in CASES]

        for attachment, (_, data, _, judged) in zip(stored, CASES, strict=True):
            download = await client.get(attachment["url"], headers=bearer("acc-1002"))
            assert download.status_code == 200
            assert download.content == data
            assert download.headers["content-type"].split(";")[0] == judged
            assert download.headers["x-content-type-options"] == "nosniff"
            assert download.headers["content-disposition"].startswith("attachment")
            assert "sandbox" in download.headers["content-security-policy"]

    # The event carries the judged types too, so no consumer trusts the declared ones.
    (event,) = await read_topic(
        services.config.kafka_bootstrap,
        "tickets.submitted",
        lambda e: e.get("ticket_id") == accepted["ticket_id"],
        timeout=20,
    )
    assert [a["content_type"] for a in event["attachments"]] == [j for *_, j in CASES]
