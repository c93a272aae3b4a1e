"""Another account's request id on every route that takes one, on intake and history, as
running processes: nothing is read, nothing is changed, and the answer does not confirm that
the request exists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer
from shared.waiting import wait_until

from .security_support import GOOD_TICKET, operations

pytestmark = pytest.mark.e2e

SECRET = "Secret-7Q4 my seed phrase is not here"
OWNER, INTRUDER = "acc-1001", "acc-1002"
BODIES = {
    "/comments": {"body": "intruder comment"},
    "/documents": None,  # multipart, below
    "/replies": {"body": "intruder reply"},
    "/status": {"status": "closed"},
    "/information-requests": {"body": "send me your ID", "documents": True},
    "/notes": {"body": "intruder note"},
    "/transfers": {"team": "security", "reason": "intruder transfer"},
    "/assignment": {"assignee": "agent-2"},
}


async def test_no_route_serves_or_changes_another_accounts_request(
    services: EmbeddedStack,
) -> None:
    config = services.config
    async with httpx.AsyncClient(base_url=config.url("intake"), timeout=20) as intake:
        owned = await intake.post(
            "/v1/tickets",
            headers=bearer(OWNER),
            data=GOOD_TICKET | {"subject": SECRET},
            files=[("attachments", ("note.txt", f"{SECRET}\n".encode(), "text/plain"))],
        )
    assert owned.status_code == 202, owned.text
    ticket_id = owned.json()["ticket_id"]
    attachment_id = owned.json()["attachments"][0]["attachment_id"]

    tried = []
    for service in ("intake", "history"):
        routes = [op for op in await operations(services, service) if "{ticket_id}" in op.path]
        async with httpx.AsyncClient(base_url=config.url(service), timeout=20) as client:
            for op in routes:
                url = op.url(ticket_id=ticket_id, attachment_id=attachment_id)
                kwargs: dict[str, Any] = {}
                if op.method == "POST":
                    suffix = "/" + op.path.rsplit("/", 1)[-1]
                    if BODIES[suffix] is None:
                        kwargs["files"] = [("attachments", ("id.txt", b"my id", "text/plain"))]
                    else:
                        kwargs["json"] = BODIES[suffix]
                response = await client.request(op.method, url, headers=bearer(INTRUDER), **kwargs)
                where = f"{service} {op.method} {op.path}"
                # Customer routes answer 404 as if the request did not exist; agent routes
                # refuse a customer outright.
                assert response.status_code == (403 if op.role == "agent" else 404), where
                assert SECRET not in response.text, where
                tried.append(where)
    assert len(tried) >= 7, tried

    async with httpx.AsyncClient(base_url=config.url("history"), timeout=20) as history:
        # The intruder's own list and search do not reach it either.
        mine = await history.get(
            "/v1/accounts/me/activities", params={"q": "Secret-7Q4"}, headers=bearer(INTRUDER)
        )
        assert mine.status_code == 200
        assert mine.json()["items"] == []

        # Nothing changed: a sentinel comment by the owner reaches the history after anything
        # the intruder could have caused (one request's events share a partition, in order).
        async with httpx.AsyncClient(base_url=config.url("intake"), timeout=20) as intake:
            sentinel = await intake.post(
                f"/v1/tickets/{ticket_id}/comments",
                headers=bearer(OWNER),
                json={"body": "owner sentinel"},
            )
        assert sentinel.status_code == 202, sentinel.text

        async def timeline() -> list[dict[str, Any]] | None:
            response = await history.get(f"/v1/tickets/{ticket_id}", headers=bearer(OWNER))
            if response.status_code != 200:
                return None
            entries: list[dict[str, Any]] = response.json()["timeline"]
            return entries if any(e["kind"] == "comment" for e in entries) else None

        entries = await wait_until(timeline, timeout=30, what="the owner's sentinel comment")
    text = str(entries)
    assert "intruder" not in text
    assert "send me your ID" not in text
    assert [e["kind"] for e in entries].count("comment") == 1
    forbidden = {"reply", "documents_requested", "information_requested", "documents_uploaded"}
    assert not any(e["kind"] in forbidden | {"status_changed"} for e in entries)
