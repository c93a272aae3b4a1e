"""Account recovery over real HTTP and Kafka: one answer for every address, the event for an
eligible account only, the link checked and honoured once, a 2FA request with ID photos."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from shared.contracts.directory import ACCOUNTS_COLLECTION, DIRECTORY_DATABASE
from shared.contracts.recovery import recovery_token
from shared.mongo import Document
from shared.settings import DEVELOPMENT_RECOVERY_SECRET
from shared.waiting import wait_until

from .intake_samples import jpeg
from .intake_support import IntakeUnderTest, events_of

pytestmark = pytest.mark.integration


async def new_account(mongo: AsyncMongoClient[Document], *, verified: bool = True) -> str:
    account_id = f"acc-r{uuid4().hex[:8]}"
    await mongo[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION].insert_one(
        {"_id": account_id, "email": f"{account_id}@example.com", "email_verified": verified}
    )
    return account_id


async def link_for(server: IntakeUnderTest, account_id: str) -> str:
    found: list[dict[str, object]] = []

    async def mailed() -> bool:
        found[:] = await events_of(server, "accounts.recovery", account_id, field="account_id")
        return bool(found)

    await wait_until(mailed, timeout=20, what="the recovery event")
    assert len(found) == 1
    return recovery_token(str(found[0]["recovery_id"]), DEVELOPMENT_RECOVERY_SECRET)


def filing(token: str, *, photo: bool = True) -> dict[str, object]:
    files = [("attachments", ("id.jpg", jpeg(), "image/jpeg"))] if photo else []
    return {
        "data": {
            "token": token,
            "subject": "Lost my phone",
            "description": "My authenticator app was on the phone I lost.",
        },
        "files": files,
    }


async def test_the_same_answer_for_a_known_and_an_unknown_address(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest, mongo: AsyncMongoClient[Document]
) -> None:
    known = await new_account(mongo)
    answers = [
        await client.post("/v1/account-recovery", json={"email": email})
        for email in (f"{known}@example.com", f"nobody-{uuid4().hex[:6]}@example.com")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    assert await link_for(intake_server, known)  # the known one, and only it, gets a link


async def test_a_link_files_one_2fa_request_and_is_refused_after(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest, mongo: AsyncMongoClient[Document]
) -> None:
    account_id = await new_account(mongo)
    ask = await client.post("/v1/account-recovery", json={"email": f"{account_id}@example.com"})
    assert ask.status_code == 202
    token = await link_for(intake_server, account_id)
    check = await client.post("/v1/account-recovery/link", json={"token": token})
    assert check.json()["state"] == "valid"
    assert check.json()["expires_at"]

    no_photo = await client.post("/v1/account-recovery/request", **filing(token, photo=False))  # type: ignore[arg-type]
    assert no_photo.status_code == 422
    assert no_photo.headers["content-type"] == "application/problem+json"
    assert no_photo.json()["invalid-params"][0]["name"].startswith("attachments")

    filed = await client.post("/v1/account-recovery/request", **filing(token))  # type: ignore[arg-type]
    assert filed.status_code == 202, filed.text
    ticket_id = filed.json()["ticket_id"]
    (event,) = await events_of(intake_server, "tickets.submitted", ticket_id)
    assert event["account_id"] == account_id
    assert event["category"] == "disable-2fa"
    assert len(event["attachments"]) == 1

    again = await client.post("/v1/account-recovery/request", **filing(token))  # type: ignore[arg-type]
    assert again.status_code == 410
    used = await client.post("/v1/account-recovery/link", json={"token": token})
    assert used.json() == {"state": "used", "expires_at": None}


async def test_two_tabs_at_once_file_one_request(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest, mongo: AsyncMongoClient[Document]
) -> None:
    account_id = await new_account(mongo)
    await client.post("/v1/account-recovery", json={"email": f"{account_id}@example.com"})
    token = await link_for(intake_server, account_id)
    answers = await asyncio.gather(
        *(client.post("/v1/account-recovery/request", **filing(token)) for _ in range(3))  # type: ignore[arg-type]
    )
    assert sorted(a.status_code for a in answers) == [202, 410, 410]


@pytest.mark.parametrize(
    "token", ["", "nonsense", "A" * 22 + "." + "0" * 32, recovery_token("B" * 22, "x" * 40)]
)
async def test_a_forged_link_is_refused(client: httpx.AsyncClient, token: str) -> None:
    check = await client.post("/v1/account-recovery/link", json={"token": token or "x"})
    assert check.json()["state"] == "invalid"
    filed = await client.post("/v1/account-recovery/request", **filing(token))  # type: ignore[arg-type]
    assert filed.status_code == 404
    assert filed.headers["content-type"] == "application/problem+json"


async def test_an_unverified_address_gets_no_link_and_the_same_answer(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest, mongo: AsyncMongoClient[Document]
) -> None:
    account_id = await new_account(mongo, verified=False)
    answer = await client.post("/v1/account-recovery", json={"email": f"{account_id}@example.com"})
    assert answer.status_code == 202
    # A second, eligible ask after it: once its event is there, the first one's would be too.
    witness = await new_account(mongo)
    await client.post("/v1/account-recovery", json={"email": f"{witness}@example.com"})
    await link_for(intake_server, witness)
    assert await events_of(intake_server, "accounts.recovery", account_id, field="account_id") == []


async def test_asking_too_often_for_one_address_is_429(client: httpx.AsyncClient) -> None:
    email = f"often-{uuid4().hex[:6]}@example.com"
    statuses = [
        (await client.post("/v1/account-recovery", json={"email": email})).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


@pytest.mark.parametrize(
    "body", [{}, {"email": "no-at-sign"}, {"email": "a@b.c", "locale": "<script>"}, []]
)
async def test_a_bad_ask_is_422(client: httpx.AsyncClient, body: object) -> None:
    answer = await client.post("/v1/account-recovery", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
