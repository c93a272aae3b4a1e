"""Submissions with files, as a browser form posts them, over real HTTP: types from the bytes,
limits while streaming, GridFS storage, references in events, downloads for the owner and
agents only."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack.testing import bearer
from shared.contracts.identity import Role
from shared.mongo import Document

from .intake_samples import ELF, GIF, ZIP, account, jpeg, pdf, png, text
from .intake_support import IntakeUnderTest, events_of, raw_exchange

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
FIELDS = {
    "category": "deposits",
    "subject": "Deposit missing",
    "description": "My card deposit of 100 EUR has not arrived after three days.",
}
FileSpec = tuple[str, tuple[str, bytes, str]]


def files(*items: tuple[str, bytes, str]) -> list[FileSpec]:
    return [("attachments", item) for item in items]


async def stored_files(mongo: AsyncMongoClient[Document], owner: str) -> int:
    return await mongo["intake"]["attachments.files"].count_documents(
        {"metadata.account_id": owner}
    )


async def stored_tickets(mongo: AsyncMongoClient[Document], owner: str) -> int:
    return await mongo["intake"]["tickets"].count_documents({"account_id": owner})


async def submit(
    client: httpx.AsyncClient, owner: str, attachments: list[FileSpec], **fields: str
) -> httpx.Response:
    return await client.post(
        "/v1/tickets", headers=bearer(owner), data=FIELDS | fields, files=attachments
    )


async def test_attachments_are_sniffed_stored_and_referenced(
    client: httpx.AsyncClient, intake_server: IntakeUnderTest
) -> None:
    owner = account()
    photo, scan, note = png(), pdf(), text()
    response = await submit(
        client,
        owner,
        files(
            ("photo.jpg", photo, "image/jpeg"),  # a PNG, whatever its name and type say
            ("id.jpg", scan, "image/jpeg"),  # a PDF sent under a JPEG name
            ("notes.txt", note, "application/octet-stream"),
        ),
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    ticket_id = accepted["ticket_id"]
    assert [a["content_type"] for a in accepted["attachments"]] == [
        "image/png",
        "application/pdf",
        "text/plain",
    ]
    (event,) = await events_of(intake_server, "tickets.submitted", ticket_id)
    refs = event["attachments"]
    assert [r["sha256"] for r in refs] == [
        hashlib.sha256(d).hexdigest() for d in (photo, scan, note)
    ]
    # the extension follows the judged type, so a saved copy opens as what it is
    assert [r["filename"] for r in refs] == ["photo.jpg.png", "id.jpg.pdf", "notes.txt"]
    assert all(
        set(r) == {"attachment_id", "filename", "content_type", "size", "sha256"} for r in refs
    )

    download = await client.get(accepted["attachments"][0]["url"], headers=bearer(owner))
    assert download.status_code == 200
    assert download.content == photo
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="photo.jpg.png"'
    )
    assert download.headers["x-content-type-options"] == "nosniff"

    text_download = await client.get(accepted["attachments"][2]["url"], headers=bearer(owner))
    assert text_download.headers["content-type"].startswith("text/plain")
    assert text_download.content == note


async def test_only_the_owner_and_agents_download(client: httpx.AsyncClient) -> None:
    owner = account()
    response = await submit(client, owner, files(("a.jpg", jpeg(), "image/jpeg")))
    accepted = response.json()
    url = accepted["attachments"][0]["url"]
    attachment_id = accepted["attachments"][0]["attachment_id"]

    assert (await client.get(url, headers=bearer(owner))).status_code == 200
    assert (await client.get(url, headers=bearer("agent-7", Role.AGENT))).status_code == 200
    for stranger in (bearer(account()), bearer("dash-1", Role.DASHBOARD)):
        refused = await client.get(url, headers=stranger)
        assert refused.status_code == 404  # not 403: its existence is not confirmed
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(url)).status_code == 401

    other = (await submit(client, owner, [], subject="Another one")).json()["ticket_id"]
    wrong_ticket = f"/v1/tickets/{other}/attachments/{attachment_id}"
    assert (await client.get(wrong_ticket, headers=bearer(owner))).status_code == 404
    unknown = f"/v1/tickets/{accepted['ticket_id']}/attachments/att-nope"
    assert (await client.get(unknown, headers=bearer(owner))).status_code == 404


async def test_id_photos_clear_the_documents_flag(client: httpx.AsyncClient) -> None:
    change_email = {"category": "change-email", "subject": "New e-mail address"}
    with_photo = await submit(
        client, account(), files(("id.jpg", jpeg(), "image/jpeg")), **change_email
    )
    assert with_photo.json()["required_documents_missing"] is False
    text_only = await submit(
        client, account(), files(("why.txt", text(), "text/plain")), **change_email
    )
    assert text_only.json()["required_documents_missing"] is True  # a text file is no ID photo
    none = await submit(client, account(), [], **change_email)
    assert none.json()["required_documents_missing"] is True


@pytest.mark.parametrize(
    ("bad", "declared"),
    [(GIF, "image/gif"), (ZIP, "image/jpeg"), (ELF, "text/plain"), (png()[:20], "image/png")],
    ids=["gif", "zip-as-jpeg", "elf-as-text", "truncated-png"],
)
async def test_types_not_allowed_are_415_naming_the_file(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Document], bad: bytes, declared: str
) -> None:
    owner = account()
    response = await submit(
        client, owner, files(("ok.jpg", jpeg(), "image/jpeg"), ("bad.bin", bad, declared))
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert [p["name"] for p in response.json()["invalid-params"]] == ["attachments[1]"]
    assert await stored_files(mongo, owner) == 0
    assert await stored_tickets(mongo, owner) == 0


async def test_eleven_files_are_413(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Document]
) -> None:
    owner = account()
    eleven = files(*[(f"{n}.txt", text(f"note {n}"), "text/plain") for n in range(11)])
    response = await submit(client, owner, eleven)
    assert response.status_code == 413
    assert response.json()["invalid-params"][0]["name"] == "attachments[10]"
    assert await stored_files(mongo, owner) == 0
    ten = await submit(client, owner, eleven[:10])
    assert ten.status_code == 202
    assert len(ten.json()["attachments"]) == 10


async def test_a_file_over_10_mib_is_413(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Document]
) -> None:
    owner = account()
    big = b"a" * (10 * MIB + 1)
    response = await submit(
        client, owner, files(("small.txt", text(), "text/plain"), ("big.txt", big, "text/plain"))
    )
    assert response.status_code == 413
    assert response.json()["invalid-params"][0]["name"] == "attachments[1]"
    assert await stored_files(mongo, owner) == 0


async def test_a_file_of_exactly_10_mib_is_accepted(client: httpx.AsyncClient) -> None:
    exact = b"b" * (10 * MIB)
    response = await submit(client, account(), files(("exact.txt", exact, "text/plain")))
    assert response.status_code == 202, response.text
    assert response.json()["attachments"][0]["size"] == 10 * MIB


def request_head(server: IntakeUnderTest, owner: str, length: int, boundary: str) -> bytes:
    auth = bearer(owner)["Authorization"]
    return (
        f"POST /v1/tickets HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Authorization: {auth}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def test_a_huge_upload_is_refused_without_reading_it_all(
    intake_server: IntakeUnderTest,
) -> None:
    """We declare 60 MiB but send only the first file's first 10 MiB + 1 byte: the answer
    comes anyway, so the server never needed (nor waited for) the rest."""
    boundary = "b0undary"
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments";'
        ' filename="huge.txt"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    head = request_head(intake_server, account(), 60 * MIB, boundary)
    status, answer = await raw_exchange(intake_server, head, part + b"a" * (10 * MIB + 1))
    assert status == 413
    assert b"attachments[0]" in answer


async def test_an_oversized_declared_length_is_refused_before_any_body(
    intake_server: IntakeUnderTest,
) -> None:
    head = request_head(intake_server, account(), 10 * 1024 * MIB, "b0undary")
    status, answer = await raw_exchange(intake_server, head, b"")
    assert status == 413
    assert b"application/problem+json" in answer


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=x", b"not multipart"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="subject"\r\n\r\nHi\r\n',
        ),
    ],
    ids=["no-boundary", "garbage", "truncated"],
)
async def test_malformed_multipart_is_400(
    client: httpx.AsyncClient, content_type: str, body: bytes
) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()) | {"Content-Type": content_type},
        content=body,
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_form_fields_are_validated_like_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()),
        data={"category": "deposits", "subject": "x" * 201},
        files=files(("a.jpg", jpeg(), "image/jpeg")),
    )
    assert response.status_code == 422
    names = {p["name"] for p in response.json()["invalid-params"]}
    assert names == {"body.subject", "body.description"}


async def test_files_in_another_field_are_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tickets",
        headers=bearer(account()),
        data=FIELDS,
        files=[("photo", ("a.jpg", jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 422
    assert response.json()["invalid-params"][0]["name"] == "photo"


async def test_an_empty_file_input_is_ignored(client: httpx.AsyncClient) -> None:
    # A browser posts an empty, unnamed part for a file input the customer left empty.
    response = await submit(client, account(), files(("", b"", "application/octet-stream")))
    assert response.status_code == 202, response.text
    assert response.json()["attachments"] == []


async def test_a_form_without_files_may_be_urlencoded(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/tickets", headers=bearer(account()), data=FIELDS)
    assert response.status_code == 202, response.text
