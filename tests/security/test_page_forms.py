"""The pages' forms against the running services, as a browser (cookie jar) and as another
site would post them: every form refuses a post without its CSRF token or from another
origin; a customer cannot act on another account's request through them; what a customer
types is shown inert; account recovery answers alike for every address and a link files one
request only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from uuid import uuid4

import httpx
import pytest

from devstack.stack import EmbeddedStack
from devstack.testing import bearer, read_maildir, wait_for_mail
from shared.contracts.identity import Role
from shared.waiting import wait_until

from .security_support import csrf_of, submit_ticket

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"pixels" * 50 + b"\xff\xd9"
LINK = re.compile(r"/account-recovery/([A-Za-z0-9_-]{22,64}\.[0-9a-f]{32})")
AGENT = bearer("agent-1", Role.AGENT)


@asynccontextmanager
async def browser(
    stack: EmbeddedStack, account: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies like a browser, signed in as `account` through the form."""
    url = stack.config.url("history")
    headers = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
    async with httpx.AsyncClient(base_url=url, timeout=20, headers=headers) as client:
        if account is not None:
            token = bearer(account)["Authorization"].removeprefix("Bearer ")
            signed_in = await client.post(
                "/my-activities/session",
                data={"token": token, "csrf_token": await csrf_of(client)},
            )
            assert signed_in.status_code == 303, signed_in.text
        yield client


async def timeline_bodies(stack: EmbeddedStack, ticket_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=stack.config.url("history"), timeout=10) as history:
        view = (await history.get(f"/v1/tickets/{ticket_id}", headers=AGENT)).json()
    return [str(e["details"].get("body", "")) for e in view.get("timeline", [])]


async def test_every_form_refuses_a_post_without_its_token_or_from_another_site(
    services: EmbeddedStack,
) -> None:
    ticket_id = (await submit_ticket(services))["ticket_id"]
    forms = {
        "/requests/new": {"category": "cards", "subject": "CSRF", "description": "forged post!!"},
        f"/my-activities/{ticket_id}/comments": {"body": "forged comment"},
        f"/my-activities/{ticket_id}/documents": {},
        "/account-recovery": {"email": "alice@example.com"},
        "/account-recovery/" + "A" * 22 + "." + "0" * 32: {"description": "forged request"},
        "/my-activities/session/end": {},
    }
    async with browser(services, "acc-1001") as alice:
        genuine = await csrf_of(alice, "/requests/new")
        for path, fields in forms.items():
            files = {"attachments": ("id.jpg", JPEG, "image/jpeg")} if "documents" in path else None
            without = await alice.post(path, data=fields, files=files)
            assert without.status_code == 403, f"{path} without a token"
            elsewhere = await alice.post(
                path,
                data=fields | {"csrf_token": genuine},
                files=files,
                headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
            )
            assert elsewhere.status_code == 403, f"{path} from another site"
        suggestion = await alice.post(
            "/requests/new/suggestions",
            json={"subject": "x", "description": "withdrawal pending"},
        )
        assert suggestion.status_code == 403  # the script's header token is missing
        # Nothing of it arrived: a genuine comment after them is the only one.
        done = await alice.post(
            f"/my-activities/{ticket_id}/comments",
            data={
                "body": "the genuine one",
                "csrf_token": await csrf_of(alice, f"/my-activities/{ticket_id}"),
            },
        )
        assert done.status_code == 303, done.text

    async def arrived() -> list[str] | None:
        bodies = await timeline_bodies(services, ticket_id)
        return bodies if "the genuine one" in bodies else None

    bodies = await wait_until(arrived, timeout=DEADLINE, what="the genuine comment")
    assert "forged comment" not in bodies


async def test_a_customer_cannot_act_on_another_accounts_request(services: EmbeddedStack) -> None:
    bobs = (await submit_ticket(services, account="acc-1002", subject="Bob's card"))["ticket_id"]
    async with browser(services, "acc-1001") as alice:
        csrf = await csrf_of(alice, "/requests/new")
        page = await alice.get(f"/my-activities/{bobs}")
        assert page.status_code == 404
        assert "Bob's card" not in page.text
        comment = await alice.post(
            f"/my-activities/{bobs}/comments", data={"body": "alice was here", "csrf_token": csrf}
        )
        assert comment.status_code == 404
        upload = await alice.post(
            f"/my-activities/{bobs}/documents",
            data={"csrf_token": csrf},
            files={"attachments": ("id.jpg", JPEG, "image/jpeg")},
        )
        assert upload.status_code == 404
    async with browser(services, "acc-1002") as bob:
        witness = await bob.post(
            f"/my-activities/{bobs}/comments",
            data={
                "body": "bob was here",
                "csrf_token": await csrf_of(bob, f"/my-activities/{bobs}"),
            },
        )
        assert witness.status_code == 303

    async def settled() -> list[str] | None:
        bodies = await timeline_bodies(services, bobs)
        return bodies if "bob was here" in bodies else None

    assert "alice was here" not in await wait_until(settled, timeout=DEADLINE, what="bob's comment")


async def test_what_a_customer_types_is_shown_inert(services: EmbeddedStack) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with browser(services, "acc-1001") as alice:
        submitted = await alice.post(
            "/requests/new",
            data={
                "category": "cards",
                "subject": f"Card {hostile}",
                "description": f"My card has not arrived. {hostile}",
                "locale": "en",
                "csrf_token": await csrf_of(alice, "/requests/new"),
            },
        )
        assert submitted.status_code == 303, submitted.text
        ticket_id = submitted.headers["location"].split("/")[2].split("?")[0]

        async def shown() -> str | None:
            page = await alice.get(f"/my-activities/{ticket_id}")
            return page.text if page.status_code == 200 and "My card has not" in page.text else None

        html = await wait_until(shown, timeout=DEADLINE, what="the request page")
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        # and an invalid form comes back with the text escaped in its fields
        refused = await alice.post(
            "/requests/new",
            data={
                "category": "cards",
                "subject": hostile,
                "description": "short",
                "csrf_token": await csrf_of(alice, "/requests/new"),
            },
        )
        assert refused.status_code == 422
        assert "<script>alert" not in refused.text
        assert 'aria-invalid="true"' in refused.text


def _link(mail: EmailMessage) -> str | None:
    body = mail.get_body(preferencelist=("plain",))
    found = LINK.search(body.get_content() if body else "")
    return found.group(1) if found else None


async def test_recovery_answers_alike_and_a_link_files_one_request(
    services: EmbeddedStack,
) -> None:
    def bobs_link(m: EmailMessage) -> bool:
        return m["X-Envelope-To"] == "bob@example.com" and _link(m) is not None

    earlier = {m["Message-ID"] for m in read_maildir(services.config.maildir) if bobs_link(m)}
    answers = []
    for email in ("bob@example.com", f"nobody-{uuid4().hex[:6]}@example.com"):
        async with browser(services) as stranger:
            answer = await stranger.post(
                "/account-recovery",
                data={"email": email, "csrf_token": await csrf_of(stranger, "/account-recovery")},
            )
            assert answer.status_code == 202
            answers.append(re.sub(r'value="[0-9a-f]{64}"', "", answer.text))
    assert answers[0] == answers[1]  # the same page, whether or not an account uses it

    [mail] = await wait_for_mail(  # the one this test asked for (others may have asked too)
        services.config.maildir,
        lambda m: bobs_link(m) and m["Message-ID"] not in earlier,
        timeout=DEADLINE,
    )
    token = _link(mail)
    assert token is not None
    async with browser(services) as bob:
        form = await bob.get(f"/account-recovery/{token}")
        assert form.status_code == 200
        csrf = await csrf_of(bob, f"/account-recovery/{token}")
        fields = {
            "subject": "Lost my phone",
            "description": "My authenticator was on my old phone.",
            "csrf_token": csrf,
        }
        photo = {"attachments": ("id.jpg", JPEG, "image/jpeg")}
        filed = await bob.post(f"/account-recovery/{token}", data=fields, files=photo)
        assert filed.status_code == 202, filed.text
        again = await bob.post(f"/account-recovery/{token}", data=fields, files=photo)
        assert again.status_code == 410
        assert (await bob.get(f"/account-recovery/{token}")).status_code == 410
        forged = await bob.get(
            "/account-recovery/" + token[:-1] + ("0" if token[-1] != "0" else "1")
        )
        assert forged.status_code == 404
