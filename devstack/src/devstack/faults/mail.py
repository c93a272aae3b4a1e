"""The mail receiver killed mid-stream: customers' e-mail answers keep coming, as an MTA
delivers them (each message retried until it is accepted with a 250), while the receiver is
SIGKILLed and restarted. Then every accepted answer must be on its request exactly once: not
lost (accepted but never recorded) and not doubled (recorded, then redelivered because the
250 never reached the sender).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid
from uuid import uuid4

import aiosmtplib
import httpx

from devstack.faults.driver import ACCOUNTS, Result, kill_and_restart
from devstack.stack import MAIL_RECEIVER, EmbeddedStack
from devstack.testing import bearer, wait_for_mail
from shared.contracts.identity import Role
from shared.waiting import wait_until

ADDRESSES = {"acc-1001": "alice@example.com", "acc-1002": "bob@example.com"}
REQUESTS = 20
CONCURRENCY = 4


async def _requests(stack: EmbeddedStack, tag: str) -> list[tuple[str, str, str]]:
    """(ticket id, owner's address, reply address) of requests opened for the load."""
    opened = []
    async with httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=20) as intake:
        for n in range(REQUESTS):
            account = ACCOUNTS[n % len(ACCOUNTS)]
            response = await intake.post(
                "/v1/tickets",
                headers=bearer(account),
                json={
                    "category": "cards",
                    "subject": f"Mail faults {tag} #{n}",
                    "description": f"My card has not arrived ({tag}, request {n}).",
                },
            )
            response.raise_for_status()
            opened.append((response.json()["ticket_id"], ADDRESSES[account]))
    found = []
    for ticket_id, address in opened:

        def its_acknowledgement(mail: EmailMessage, ticket_id: str = ticket_id) -> bool:
            return bool(mail["X-Request-Id"] == ticket_id)

        [ack] = await wait_for_mail(stack.config.maildir, its_acknowledgement, timeout=120)
        found.append((ticket_id, address, str(ack["Reply-To"])))
    return found


def _answer(address: str, reply_to: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = address, reply_to
    message["Subject"], message["Message-ID"] = "Re: my request", make_msgid(domain="example.com")
    message.set_content(body)
    return message


async def run_mail_scenario(stack: EmbeddedStack, name: str, replies: int) -> Result:
    started = time.monotonic()
    tag = f"mail-{uuid4().hex[:6]}"
    result = Result(name, routed=None, emails=None)  # answers are not routed or mailed
    requests = await _requests(stack, tag)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(replies):
        queue.put_nowait(n)
    accepted: dict[str, str] = {}  # body -> ticket id
    injected = asyncio.Event()

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            ticket_id, address, reply_to = requests[n % len(requests)]
            body = f"Answer {tag} #{n}"
            message = _answer(address, reply_to, body)  # one Message-ID, however many tries
            deadline = time.monotonic() + 300
            while True:
                try:
                    await aiosmtplib.send(
                        message,
                        hostname=stack.config.host,
                        port=stack.config.ports.mail,
                        sender=address,
                        recipients=[reply_to],
                        timeout=20,
                    )
                    accepted[body] = ticket_id
                    if len(accepted) >= replies // 3:
                        injected.set()
                    break
                except (aiosmtplib.SMTPException, OSError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2 + random.random() * 0.3)  # noqa: S311 - backoff

    async def inject() -> None:
        await injected.wait()
        await kill_and_restart(MAIL_RECEIVER)(stack)

    injector = asyncio.create_task(inject())
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    await injector
    result.sent = len(accepted)

    agent = bearer("faults-agent", Role.AGENT)
    seen: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=stack.config.url("history"), timeout=20) as history:

        async def recorded() -> bool:
            seen.clear()
            for ticket_id, _, _ in requests:
                view = (await history.get(f"/v1/tickets/{ticket_id}", headers=agent)).json()
                for item in view.get("timeline", []):
                    if item["kind"] == "comment":
                        seen[item["details"].get("body", "")] += 1
            return all(body in seen for body in accepted)

        try:
            await wait_until(
                recorded, timeout=180 + replies / 5, what=f"{name} to settle", interval=1
            )
        except TimeoutError as exc:
            result.notes.append(str(exc))
    result.history = sum(1 for body in accepted if body in seen)
    result.lost = sum(1 for body in accepted if body not in seen)
    result.duplicated = sum(seen[body] - 1 for body in accepted if seen[body] > 1)
    result.seconds = time.monotonic() - started
    return result
