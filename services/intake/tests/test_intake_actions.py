"""Customers' and agents' actions on a request over real HTTP: ownership, the status state
machine (compare-and-set under concurrency), and the events on tickets.activity."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from devstack.testing import bearer
from shared.contracts.events import TicketRouted
from shared.contracts.identity import Role
from shared.waiting import wait_until

from .intake_samples import GIF, account, jpeg, pdf
from .intake_support import IntakeUnderTest, events_of

pytestmark = pytest.mark.integration

AGENT = bearer("agent-7", Role.AGENT)
ACTIVITY = "tickets.activity"


async def new_ticket(client: httpx.AsyncClient, owner: str) -> str:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(owner),
        json={
            "category": "disable-2fa",
            "subject": "New phone",
            "description": f"I changed my phone and lost my authenticator ({owner}).",
        },
    )
    assert response.status_code == 202, response.text
    ticket_id: str = response.json()["ticket_id"]
    return ticket_id


async def set_status(client: httpx.AsyncClient, ticket_id: str, status: str) -> httpx.Response:
    return await client.post(
        f"/v1/tickets/{ticket_id}/status", headers=AGENT, json={"status": status}
    )


async def test_the_owner_comments(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    ticket_id = await new_ticket(client, owner)
    response = await client.post(
        f"/v1/tickets/{ticket_id}/comments",
        headers=bearer(owner),
        json={"body": "  Any news?  ", "account_id": "acc-1001"},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "new"
    assert accepted["status_change"] is None
    (event,) = await events_of(intake_server, ACTIVITY, ticket_id)
    assert event["event_type"] == "CommentAdded"
    assert event["body"] == "Any news?"
    assert event["account_id"] == owner
    assert event["event_id"] == accepted["event_id"]


async def test_comments_only_by_the_owner(client: httpx.AsyncClient) -> None:
    ticket_id = await new_ticket(client, account())
    url = f"/v1/tickets/{ticket_id}/comments"
    stranger = await client.post(url, headers=bearer(account()), json={"body": "hello"})
    assert stranger.status_code == 404  # someone else's request reads as none at all
    unknown = await client.post(
        "/v1/tickets/ZZZZ-ZZZZ-ZZZZ/comments", headers=bearer(account()), json={"body": "hi"}
    )
    assert unknown.status_code == 404
    assert (await client.post(url, headers=AGENT, json={"body": "hello"})).status_code == 403
    assert (await client.post(url, json={"body": "hello"})).status_code == 401


async def test_an_empty_comment_is_422(client: httpx.AsyncClient) -> None:
    owner = account()
    ticket_id = await new_ticket(client, owner)
    url = f"/v1/tickets/{ticket_id}/comments"
    for body in ({"body": "   "}, {"body": ""}, {}):
        response = await client.post(url, headers=bearer(owner), json=body)
        assert response.status_code == 422, body
        assert response.json()["invalid-params"][0]["name"].startswith("body")


async def test_information_request_then_documents_reopen(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    ticket_id = await new_ticket(client, owner)
    asked = await client.post(
        f"/v1/tickets/{ticket_id}/information-requests",
        headers=AGENT,
        json={"body": "Please send a photo of your ID.", "documents": ["ID document (front)"]},
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["status_change"] == {"from_status": "new", "to_status": "pending"}

    photo = jpeg()
    uploaded = await client.post(
        f"/v1/tickets/{ticket_id}/documents",
        headers=bearer(owner),
        files=[("attachments", ("id-front.jpg", photo, "image/jpeg"))],
    )
    assert uploaded.status_code == 202, uploaded.text
    accepted = uploaded.json()
    assert accepted["status_change"] == {"from_status": "pending", "to_status": "open"}
    assert accepted["attachments"][0]["sha256"] == hashlib.sha256(photo).hexdigest()

    events = await events_of(intake_server, ACTIVITY, ticket_id)
    assert [e["event_type"] for e in events] == ["InformationRequested", "DocumentsUploaded"]
    assert events[0]["agent_id"] == "agent-7"
    assert events[0]["documents_requested"] == ["ID document (front)"]
    assert events[1]["attachments"][0]["content_type"] == "image/jpeg"
    # The agent can fetch what the customer sent.
    fetched = await client.get(accepted["attachments"][0]["url"], headers=AGENT)
    assert fetched.content == photo


async def test_documents_rules(client: httpx.AsyncClient) -> None:
    owner = account()
    ticket_id = await new_ticket(client, owner)
    url = f"/v1/tickets/{ticket_id}/documents"
    scan = [("attachments", ("scan.pdf", pdf(), "application/pdf"))]
    stranger = await client.post(url, headers=bearer(account()), files=scan)
    assert stranger.status_code == 404
    no_files = await client.post(
        url,
        headers=bearer(owner) | {"Content-Type": "multipart/form-data; boundary=x"},
        content=b"--x--\r\n",
    )
    assert no_files.status_code == 422
    assert no_files.json()["invalid-params"][0]["name"] == "attachments"
    gif = await client.post(
        url, headers=bearer(owner), files=[("attachments", ("x.png", GIF, "image/png"))]
    )
    assert gif.status_code == 415
    assert gif.json()["invalid-params"][0]["name"] == "attachments[0]"
    as_json = await client.post(url, headers=bearer(owner), json={"attachments": []})
    assert as_json.status_code == 415
    assert (await client.post(url, headers=AGENT, files=scan)).status_code == 403


async def test_agent_reply_solves_and_illegal_moves_are_409(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    ticket_id = await new_ticket(client, owner)
    replied = await client.post(
        f"/v1/tickets/{ticket_id}/replies",
        headers=AGENT,
        json={"body": "We reset your 2FA.", "status": "solved"},
    )
    assert replied.status_code == 202, replied.text
    assert replied.json()["status"] == "solved"

    illegal = await set_status(client, ticket_id, "pending")
    assert illegal.status_code == 409
    assert illegal.headers["content-type"] == "application/problem+json"
    assert "cannot change status from solved to pending" in illegal.json()["detail"]

    # A customer comment re-opens a solved request; closing it needs solving it first.
    comment = await client.post(
        f"/v1/tickets/{ticket_id}/comments", headers=bearer(owner), json={"body": "Still broken"}
    )
    assert comment.json()["status_change"] == {"from_status": "solved", "to_status": "open"}
    too_soon = await set_status(client, ticket_id, "closed")
    assert too_soon.status_code == 409
    assert "solve it first" in too_soon.json()["detail"]
    assert (await set_status(client, ticket_id, "solved")).status_code == 202
    closed = await client.post(
        f"/v1/tickets/{ticket_id}/status",
        headers=AGENT,
        json={"status": "closed", "note": "Duplicate of another request"},
    )
    assert closed.status_code == 202

    # Closed is final: no reply, no information request, no move.
    for path, headers, body in (
        ("replies", AGENT, {"body": "Hello"}),
        ("information-requests", AGENT, {"body": "Send a photo"}),
        ("status", AGENT, {"status": "open"}),
    ):
        refused = await client.post(f"/v1/tickets/{ticket_id}/{path}", headers=headers, json=body)
        assert refused.status_code == 409, path
        assert "closed" in refused.json()["detail"]

    events = await events_of(intake_server, ACTIVITY, ticket_id)
    assert [e["event_type"] for e in events] == [
        "AgentReplied",
        "CommentAdded",
        "StatusChanged",
        "StatusChanged",
        "NoteAdded",  # the status change's note: an internal note, never mailed
    ]
    assert events[0]["status_change"] == {"from_status": "new", "to_status": "solved"}
    assert events[3]["status_change"] == {"from_status": "solved", "to_status": "closed"}
    assert events[4]["body"] == "Duplicate of another request"
    assert events[3]["actor_role"] == "agent"


async def test_a_message_on_a_closed_request_opens_a_linked_follow_up(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    ticket_id = await new_ticket(client, owner)
    assert (await set_status(client, ticket_id, "solved")).status_code == 202
    assert (await set_status(client, ticket_id, "closed")).status_code == 202
    key = {"Idempotency-Key": f"follow-up-{ticket_id}"}
    first = await client.post(
        f"/v1/tickets/{ticket_id}/comments",
        headers=bearer(owner) | key,
        json={"body": "It broke again"},
    )
    assert first.status_code == 202, first.text
    follow_up = first.json()["follow_up_ticket_id"]
    assert follow_up not in (None, ticket_id)
    assert first.json()["event_type"] == "FollowUpOpened"
    again = await client.post(
        f"/v1/tickets/{ticket_id}/comments",
        headers=bearer(owner) | key,
        json={"body": "It broke again"},
    )
    assert again.json()["follow_up_ticket_id"] == follow_up  # a retry opens none more
    [submitted] = await events_of(intake_server, "tickets.submitted", follow_up)
    assert submitted["follow_up_of"] == ticket_id
    assert "It broke again" in submitted["description"]
    links = [
        e
        for e in await events_of(intake_server, ACTIVITY, ticket_id)
        if e["event_type"] == "FollowUpOpened"
    ]
    assert [e["follow_up_id"] for e in links] == [follow_up]


async def test_status_requests_are_validated(client: httpx.AsyncClient) -> None:
    ticket_id = await new_ticket(client, account())
    bad = await set_status(client, ticket_id, "done")
    assert bad.status_code == 422
    assert bad.json()["invalid-params"][0]["name"] == "body.status"
    assert (await set_status(client, ticket_id, "open")).status_code == 202
    same = await set_status(client, ticket_id, "open")
    assert same.status_code == 409
    assert "already open" in same.json()["detail"]
    unknown = await set_status(client, "ZZZZ-ZZZZ-ZZZZ", "open")
    assert unknown.status_code == 404
    customer = await client.post(
        f"/v1/tickets/{ticket_id}/status", headers=bearer(account()), json={"status": "solved"}
    )
    assert customer.status_code == 403


async def test_concurrent_status_changes_pass_once(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    ticket_id = await new_ticket(client, account())
    responses = await asyncio.gather(*(set_status(client, ticket_id, "solved") for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [202] + [409] * 5
    events = await events_of(intake_server, ACTIVITY, ticket_id)
    assert [e["status_change"]["to_status"] for e in events] == ["solved"]


async def place(server: IntakeUnderTest, ticket_id: str, owner: str, team: str) -> None:
    """The router's decision, as tickets.routed would bring it (no router runs here)."""
    routed = TicketRouted(
        ticket_id=ticket_id,
        account_id=owner,
        correlation_id="c",
        team=team,
        confidence=0.99,
        customer_category="disable-2fa",
        customer_team="security",
        reason="customer_category",
        model_version="test",
    )
    producer = AIOKafkaProducer(bootstrap_servers=server.kafka, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "tickets.routed", routed.model_dump_json().encode(), key=ticket_id.encode()
        )
    finally:
        await producer.stop()


async def test_agents_tools_refuse_customers_and_dashboards_and_bad_input(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    ticket_id = await new_ticket(client, owner)
    url = f"/v1/tickets/{ticket_id}"
    calls: tuple[tuple[str, str, dict[str, str] | None], ...] = (
        ("post", "notes", {"body": "A note"}),
        ("post", "transfers", {"team": "security", "reason": "2FA"}),
        ("post", "assignment", {}),
        ("delete", "assignment", None),
    )
    for method, path, body in calls:
        for who in (bearer(owner), bearer("dash-1", Role.DASHBOARD)):
            refused = await client.request(method, f"{url}/{path}", headers=who, json=body)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
    # An agent of any team may note and move any request (a triage agent routes by hand)...
    noted = await client.post(
        f"{url}/notes", headers=bearer("agent-3", Role.AGENT), json={"body": "x"}
    )
    assert noted.status_code == 202
    for body, status_code, field in (
        ({"team": "nowhere", "reason": "r"}, 422, "body.team"),
        ({"team": "security"}, 422, "body.reason"),
        ({"team": "security", "reason": " "}, 422, "body.reason"),
    ):
        bad = await client.post(f"{url}/transfers", headers=AGENT, json=body)
        assert bad.status_code == status_code, bad.text
        assert bad.json()["invalid-params"][0]["name"] == field

    # ...but only an agent of the request's team can be its assignee (agent-7 is in none).
    await place(intake_server, ticket_id, owner, "security")

    async def placed() -> httpx.Response | None:
        response = await client.post(f"{url}/assignment", headers=AGENT, json={})
        return response if response.status_code != 409 else None

    mine = await wait_until(placed, timeout=30, what="the request placed", interval=0.3)
    assert mine.status_code == 422
    assert mine.json()["invalid-params"][0]["name"] == "body.assignee"
    unknown = await client.post(
        "/v1/tickets/ZZZZ-ZZZZ-ZZZZ/notes", headers=AGENT, json={"body": "x"}
    )
    assert unknown.status_code == 404
