"""The fault-injection driver: a load of tickets through the real processes of the embedded
stack while one fault is injected, then a tally of every effect per ticket.

An effect is *lost* when a ticket accepted by the intake (202) never reaches a team topic,
the customer's mailbox or the history; it is *duplicated* when one ticket gets two routing
decisions (distinct event ids), two acknowledgement mails, or two history entries of a kind.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from devstack.stack import SERVICES, EmbeddedStack
from devstack.testing import bearer
from shared.mongo import Document
from shared.waiting import wait_until

ACCOUNTS = ("acc-1001", "acc-1002")  # demo accounts with verified addresses
CONCURRENCY = 8

Fault = Callable[[EmbeddedStack], Awaitable[None]]


@dataclass
class Result:
    scenario: str
    sent: int = 0
    routed: int | None = 0  # None: not part of the scenario (shown as -)
    emails: int | None = 0
    history: int = 0
    lost: int = 0
    duplicated: int = 0
    poison: int = 0
    poison_parked: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.poison == self.poison_parked


class TopicTally:
    """Reads a topic from the start, incrementally: JSON records by ticket id."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.records: dict[str, list[tuple[dict[str, Any], dict[str, bytes]]]] = defaultdict(list)
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False
        )
        await self._consumer.start()
        await self._consumer.topics()
        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)

    async def poll(self, timeout_ms: int = 200) -> None:
        """Read what has arrived; `timeout_ms`: how long an empty fetch waits (0: not at all)."""
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
            if not batches:
                return
            for records in batches.values():
                for r in records:
                    key = (r.key or b"").decode(errors="replace")
                    try:
                        payload = json.loads(r.value or b"")
                    except ValueError:
                        payload = None
                    self.records[key].append(
                        (payload if isinstance(payload, dict) else {}, dict(r.headers))
                    )

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


class MailTally:
    """Acknowledgement mails in the Maildir by ticket id, reading each new file once."""

    def __init__(self, maildir: Path) -> None:
        self.new = maildir / "new"
        self.seen: set[str] = set()
        self.by_ticket: dict[str, list[str]] = defaultdict(list)  # ticket -> Message-IDs

    def poll(self) -> None:
        if not self.new.exists():
            return
        parser = BytesHeaderParser()
        for path in self.new.iterdir():
            if path.name in self.seen:
                continue
            self.seen.add(path.name)
            headers = parser.parsebytes(path.read_bytes())
            if "We received" in str(headers["Subject"]):
                self.by_ticket[str(headers["X-Request-Id"])].append(str(headers["Message-ID"]))


async def submit_load(
    stack: EmbeddedStack, count: int, tag: str, on_progress: Callable[[int], None]
) -> list[str]:
    """`count` tickets as a real client sends them: each with an Idempotency-Key, retried on
    a refused connection, a 5xx or a timeout until accepted (the intake may be down)."""
    ids: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            account = ACCOUNTS[n % len(ACCOUNTS)]
            headers = bearer(account) | {"Idempotency-Key": f"{tag}-{n}"}
            body = {
                "category": "cards",
                "subject": f"Faults {tag} #{n}",
                "description": f"My card has not arrived ({tag}, request {n}).",
            }
            deadline = time.monotonic() + 300
            while True:
                try:
                    response = await client.post("/v1/tickets", headers=headers, json=body)
                    if response.status_code == 202:
                        ids.append(response.json()["ticket_id"])
                        on_progress(len(ids))
                        break
                    if response.status_code < 500 and response.status_code != 409:
                        raise RuntimeError(f"refused: {response.status_code} {response.text}")
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ticket {n} not accepted within 300 s")
                await asyncio.sleep(0.2 + random.random() * 0.3)  # noqa: S311 - client backoff

    async with httpx.AsyncClient(base_url=stack.config.url("intake"), timeout=15) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    return ids


# -- faults ------------------------------------------------------------------------------------


def kill_and_restart(service: str) -> Fault:
    async def fault(stack: EmbeddedStack) -> None:
        await stack.kill_process(service)  # SIGKILL: no drain, no commit
        await stack.start_service(service, timeout=120)

    return fault


def terminate_and_restart(service: str, exit_codes: list[int | None] | None = None) -> Fault:
    """SIGTERM (a clean stop: drain in-flight messages, commit, close), then start again."""

    async def fault(stack: EmbeddedStack) -> None:
        process = stack.processes.pop(service)
        code = await process.stop(timeout=60)  # beyond the broker's 30 s graceful timeout
        if exit_codes is not None:
            exit_codes.append(code)
        await stack.start_service(service, timeout=120)

    return fault


def smtp_down(seconds: float) -> Fault:
    async def fault(stack: EmbeddedStack) -> None:
        await stack.stop_process("smtp")
        await asyncio.sleep(seconds)  # the fault's duration, not a synchronisation
        await stack.start_smtp()

    return fault


async def mongo_restart(stack: EmbeddedStack) -> None:
    await stack.restart_mongo()


POISON_KINDS = (
    b"\xff\xfe undecodable",
    b'{"event_type": "TicketSubmitted", "ticket_id": "nope"}',  # schema-invalid
    b'{"event_type": "TicketTeleported", "ticket_id": "AAAA-BBBB-CCCC"}',  # unknown type
)


async def publish_poison(stack: EmbeddedStack, count: int, tag: str) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap, acks="all")
    await producer.start()
    keys = [f"poison-{tag}-{n}" for n in range(count)]
    try:
        for n, key in enumerate(keys):
            await producer.send_and_wait(
                "tickets.submitted", POISON_KINDS[n % len(POISON_KINDS)], key=key.encode()
            )
    finally:
        await producer.stop()
    return keys


# -- a scenario --------------------------------------------------------------------------------


async def run_scenario(
    stack: EmbeddedStack,
    name: str,
    count: int,
    fault: Fault | None = None,
    poison: int = 0,
    settle_timeout: float | None = None,
    mail_window: int = 0,
) -> Result:
    """Send `count` tickets; inject `fault` once a third are accepted (and `poison` poison
    messages in the middle); wait until every accepted ticket is routed, mailed and in the
    history, or the deadline passes; then count.

    `mail_window`: copies of a mail (the same Message-ID) the fault may cause by design — a
    SIGKILLed notifier re-sends the mails it had in flight, at most its concurrency
    (docs/reliability.md). Up to that many are reported in the notes, not counted as
    duplicated; more, or a second mail with another Message-ID, are."""
    started = time.monotonic()
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())
    tag = f"{slug}-{uuid4().hex[:6]}"
    result = Result(name)
    injected = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    poison_keys: list[str] = []

    def progress(accepted: int) -> None:
        if accepted >= max(1, count // 3) and not injected.is_set():
            injected.set()

    async def inject() -> None:
        await injected.wait()
        if poison:
            poison_keys.extend(await publish_poison(stack, poison, tag))
        if fault is not None:
            await fault(stack)

    injector = asyncio.create_task(inject())
    tasks.append(injector)
    ids = await submit_load(stack, count, tag, progress)
    await injector
    result.sent = len(set(ids))

    routed = TopicTally(stack.config.kafka_bootstrap, "tickets.routed")
    # Every submission of this load, to see one request become two tickets (e.g. an intake
    # killed after publishing, before recording the idempotency key's answer).
    submitted = TopicTally(stack.config.kafka_bootstrap, "tickets.submitted")
    dlq = TopicTally(stack.config.kafka_bootstrap, "tickets.submitted.dlq")
    mails = MailTally(stack.config.maildir)
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(stack.config.mongo_url)
    await routed.start()
    await dlq.start()
    await submitted.start()
    history: dict[str, Document] = {}
    try:

        async def complete() -> bool:
            await routed.poll()
            await dlq.poll()
            mails.poll()
            missing = [i for i in ids if i not in history]
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                cursor = mongo["history"]["requests"].find(
                    {"_id": {"$in": chunk}, "team": {"$ne": None}},
                    {"timeline.kind": 1, "team": 1},
                )
                async for doc in cursor:
                    if _history_complete(doc):
                        history[str(doc["_id"])] = doc
            return (
                all(i in routed.records for i in ids)
                and all(i in mails.by_ticket for i in ids)
                and len(history) == len(set(ids))
                and all(_parked_by_all(dlq, k) for k in poison_keys)
            )

        timeout = settle_timeout or 180 + count / 10
        try:
            await wait_until(complete, timeout=timeout, what=f"{name} to settle", interval=1)
        except TimeoutError as exc:
            result.notes.append(str(exc))
        # Re-read history documents (an entry may have grown since it was first complete).
        final = {
            str(d["_id"]): d
            async for d in mongo["history"]["requests"].find(
                {"_id": {"$in": ids}}, {"timeline.kind": 1, "team": 1}
            )
        }
    finally:
        await submitted.poll()
        await routed.stop()
        await dlq.stop()
        await submitted.stop()
        await mongo.close()

    unique = set(ids)
    routed_ids = {i for i in unique if i in routed.records}
    result.routed = len(routed_ids)
    result.emails = sum(len(mails.by_ticket.get(i, [])) for i in unique)
    result.history = sum(1 for i in unique if i in final and _history_complete(final[i]))
    lost = {i for i in unique if i not in routed_ids or i not in mails.by_ticket}
    lost |= {i for i in unique if i not in final or not _history_complete(final[i])}
    result.lost = len(lost)
    dup_routing = sum(
        len({p.get("event_id") for p, _ in routed.records[i]}) - 1 for i in routed_ids
    )
    extra_mails = sum(max(0, len(mails.by_ticket.get(i, [])) - 1) for i in unique)
    same_id = sum(max(0, len(v) - len(set(v))) for k, v in mails.by_ticket.items() if k in unique)
    window_copies = min(same_id, mail_window)
    dup_mails = extra_mails - window_copies
    dup_history = sum(_history_duplicates(final[i]) for i in unique if i in final)
    per_request: dict[str, set[str]] = defaultdict(set)
    for ticket_id, records in submitted.records.items():
        for payload, _ in records:
            if str(payload.get("subject", "")).startswith(f"Faults {tag} #"):
                per_request[payload["subject"]].add(ticket_id)
    dup_tickets = sum(len(t) - 1 for t in per_request.values())
    if dup_tickets:
        result.notes.append(f"{dup_tickets} request(s) submitted as two tickets")
    result.duplicated = dup_routing + dup_mails + dup_history + dup_tickets
    if extra_mails or mail_window:
        result.notes.append(
            f"{extra_mails} extra mail(s), {same_id} with the same Message-ID"
            + (f"; {window_copies} within the window of {mail_window}" if mail_window else "")
        )
    result.poison = len(poison_keys)
    result.poison_parked = sum(1 for k in poison_keys if _parked_by_all(dlq, k))
    result.seconds = time.monotonic() - started
    return result


CONSUMERS_OF_SUBMITTED = {b"router", b"notifier", b"history"}


def _parked_by_all(dlq: TopicTally, key: str) -> bool:
    services = {h.get("x-dlq-service") for _, h in dlq.records.get(key, [])}
    return services >= CONSUMERS_OF_SUBMITTED


def _kinds(doc: Document) -> Counter[str]:
    return Counter(str(e.get("kind")) for e in doc.get("timeline", []))


def _history_complete(doc: Document) -> bool:
    kinds = _kinds(doc)
    return bool(doc.get("team")) and kinds["submitted"] >= 1 and kinds["email_sent"] >= 1


def _history_duplicates(doc: Document) -> int:
    kinds = _kinds(doc)
    routing = kinds["routed"] + kinds["rerouted"]
    return max(0, kinds["submitted"] - 1) + max(0, routing - 1) + max(0, kinds["email_sent"] - 1)


SCENARIOS: dict[str, tuple[Fault | None, int]] = {
    **{f"kill -9 {s}": (kill_and_restart(s), 0) for s in SERVICES},
    "SIGTERM notifier": (terminate_and_restart("notifier"), 0),
    "SMTP down 30 s": (smtp_down(30), 0),
    "MongoDB restarted": (mongo_restart, 0),
    "poison burst": (None, 60),
}
