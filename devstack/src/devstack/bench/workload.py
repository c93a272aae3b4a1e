"""What the load generator sends: realistic requests (some with a wrongly picked category) from
bench accounts seeded into the directory, so every request is e-mailed and listed like a real
one, and the intake's per-account rate limit is never the bottleneck being measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from itertools import cycle

import httpx
from aiokafka import AIOKafkaProducer

from shared.admin import seed_directory
from shared.contracts.directory import AccountRecord
from shared.contracts.events import TicketSubmitted, new_ticket_id
from shared.contracts.identity import Role
from shared.kafka.publishing import event_headers
from shared.settings import ServiceSettings
from shared.tokens import issue_token

# (category the customer picked, subject, description); the third and fifth are wrong picks.
SAMPLES: tuple[tuple[str, str, str], ...] = (
    ("withdrawals", "Withdrawal stuck", "My BTC withdrawal has been pending for two days."),
    ("cards", "Card not delivered", "My debit card was posted three weeks ago, still nothing."),
    ("trading", "Transfer missing", "I sent ETH to my wallet yesterday and it has not arrived."),
    ("deposits", "Deposit not credited", "My bank transfer left my account but is not credited."),
    ("fees", "Cannot log in", "The app crashes every time I open the login screen."),
    ("verification", "Verification pending", "I uploaded my passport a week ago, still pending."),
    ("fees", "Fee too high", "I was charged a higher trading fee than the published one."),
    ("account", "Close my account", "Please close my account and send me my remaining balance."),
)
REQUESTS_PER_ACCOUNT = 10  # well under the intake's default limit of 20 an hour
# Bench accounts: `bench-<run>-0001` ..., with verified addresses on a domain of their own (a
# reserved name, RFC 2606), so the notifier mails them like anyone else while neither a real
# account's list nor its mailbox ever sees a bench request, and --cleanup can tell them apart.
BENCH_ACCOUNT_PREFIX = "bench-"
BENCH_DOMAIN = "bench.example.com"


def bench_accounts(run_id: str, count: int) -> list[AccountRecord]:
    accounts = []
    for i in range(1, count + 1):
        account_id = f"{BENCH_ACCOUNT_PREFIX}{run_id}-{i:04d}"
        accounts.append(
            AccountRecord(
                account_id=account_id,
                email=f"{account_id}@{BENCH_DOMAIN}",
                email_verified=True,
                display_name=f"Bench {run_id} {i:04d}",
            )
        )
    return accounts


def is_bench_account(account: AccountRecord) -> bool:
    """Both marks, so a real account can never be taken for one."""
    return account.account_id.startswith(BENCH_ACCOUNT_PREFIX) and (
        account.email or ""
    ).lower().endswith(f"@{BENCH_DOMAIN}")


async def seed_accounts(mongo_url: str, accounts: list[AccountRecord]) -> None:
    await seed_directory(mongo_url, accounts)


@dataclass
class Submissions:
    """When each request was sent (wall clock, seconds), by ticket id."""

    sent: dict[str, float] = field(default_factory=dict)
    accepted: dict[str, float] = field(default_factory=dict)  # HTTP: when intake answered 202
    errors: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def submitted_events(run_id: str, n: int, accounts: list[AccountRecord]) -> list[TicketSubmitted]:
    texts = cycle(SAMPLES)
    owners = cycle(accounts)
    events = []
    for i in range(n):
        category, subject, description = next(texts)
        events.append(
            TicketSubmitted(
                ticket_id=new_ticket_id(),
                account_id=next(owners).account_id,
                correlation_id=f"bench-{run_id}-{i}",
                category=category,
                subject=f"{subject} #{i}",
                description=description,
            )
        )
    return events


async def paced(n: int, rate: float, send: Callable[[int], Awaitable[None]]) -> None:
    """Call send(i) for i < n at `rate` per second (0: as fast as possible), on schedule: a late
    start is caught up rather than shifting every later request."""
    start = time.monotonic()
    for i in range(n):
        if rate > 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await send(i)


async def produce_submitted(
    bootstrap: str, topic: str, events: list[TicketSubmitted], rate: float, into: Submissions
) -> None:
    """Straight onto tickets.submitted, as the intake would publish them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    payloads = [(e.ticket_id, e.model_dump_json().encode(), event_headers(e)) for e in events]
    pending: list[asyncio.Future[object]] = []

    async def send(i: int) -> None:
        ticket_id, value, headers = payloads[i]
        into.sent[ticket_id] = time.time()
        pending.append(
            await producer.send(
                topic,
                value,
                key=ticket_id.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        )

    try:
        into.started = time.time()
        await paced(len(payloads), rate, send)
        await asyncio.gather(*pending)
        into.finished = time.time()
    finally:
        await producer.stop()


def tokens(accounts: Iterable[AccountRecord]) -> list[str]:
    settings = ServiceSettings()  # the development key unless JWT_SECRET is exported
    return [
        issue_token(
            settings.jwt_verification_key,
            a.account_id,
            Role.CUSTOMER,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
        for a in accounts
    ]


async def post_tickets(
    intake_url: str,
    n: int,
    accounts: list[AccountRecord],
    rate: float,
    concurrency: int,
    into: Submissions,
    on_accepted: Callable[[str], None] = lambda _: None,
) -> None:
    """Through the intake's HTTP API: POST /v1/tickets with each account's bearer token."""
    bearer = [f"Bearer {t}" for t in tokens(accounts)]
    texts = cycle(SAMPLES)
    bodies = []
    for i in range(n):
        category, subject, description = next(texts)
        bodies.append(
            {"category": category, "subject": f"{subject} #{i}", "description": description}
        )
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=concurrency * 2)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=intake_url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            while (i := await queue.get()) is not None:
                sent = time.time()
                try:
                    response = await client.post(
                        "/v1/tickets",
                        json=bodies[i],
                        headers={"Authorization": bearer[i % len(bearer)]},
                    )
                except httpx.HTTPError as exc:
                    into.error(type(exc).__name__)
                    continue
                if response.status_code != 202:
                    into.error(f"HTTP {response.status_code}")
                    continue
                ticket_id = response.json()["ticket_id"]
                into.sent[ticket_id] = sent
                into.accepted[ticket_id] = time.time()
                on_accepted(ticket_id)

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        into.started = time.time()
        await paced(n, rate, queue.put)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        into.finished = time.time()
