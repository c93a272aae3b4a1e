"""Time rules end to end, with targets shortened to seconds: the whole pipeline as real
processes (intake, router, notifier, history, the scheduler) on their own topics and
databases beside the session's stack, so no other test's requests run against these clocks.

- an urgent request nobody answers breaches its first-reply target: the breach reaches the
  team's topic once, the queue shows it breached, the stats count it;
- an answer stops the clock; a transfer keeps it (the breach comes on time, to the new team);
- a pending request is reminded by e-mail, then solved; a solved one is closed; a customer's
  answer in between cancels what was pending.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from devstack.stack import SCHEDULER, SERVICES, EmbeddedStack, StackConfig, StackPorts, free_port
from devstack.testing import accepted, bearer, read_topic, wait_for_mail
from shared.contracts.identity import Role
from shared.waiting import wait_until

pytestmark = pytest.mark.e2e

PREFIX = "rules-"
NEEDED = (*SERVICES, SCHEDULER)  # no mail receiver: nobody answers by e-mail here
DEADLINE = 40.0
CUSTOMER = "acc-1001"
AGENT = bearer("agent-1", Role.AGENT)
DASHBOARD = bearer("manager-1", Role.DASHBOARD)
FIRST_REPLY = 5  # seconds, urgent
RULES = f"""
warn_at = 0.5
[[targets]]
priority = "urgent"
first_reply = "PT{FIRST_REPLY}S"
next_reply = "PT1H"
resolution = "PT1H"
[[targets]]
priority = "normal"
first_reply = "PT1H"
next_reply = "PT1H"
resolution = "PT2H"
[[automations]]
id = "remind-pending"
status = "pending"
after = "PT2S"
action = "remind"
[[automations]]
id = "solve-pending"
status = "pending"
after = "PT2S"
counts_from = "remind-pending"
action = "solve"
note = "Solved automatically: no reply."
[[automations]]
id = "close-solved"
status = "solved"
after = "PT2S"
action = "close"
"""
TAKEOVER = (
    "Someone logged into my account from a new device, it was not me. They changed my password"
    " and I think they are trying to withdraw my coins. Please freeze my account now."
)


@pytest.fixture(scope="module")
async def desk(
    infra: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[EmbeddedStack]:
    """Every process of the help desk, on the session's Kafka, MongoDB and SMTP server."""
    data_dir: Path = tmp_path_factory.mktemp("rules")
    rules = data_dir / "time_rules.toml"
    rules.write_text(RULES)
    base = infra.config
    ports = StackPorts(
        kafka=base.ports.kafka,
        mongo=base.ports.mongo,
        smtp=base.ports.smtp,
        **{
            n: free_port()
            for n in (
                "intake",
                "router",
                "notifier",
                "history",
                "intake_mail",
                "mail",
                "history_scheduler",
            )
        },
    )
    env = {
        **base.extra_env,
        "HISTORY_TIME_RULES_PATH": str(rules),
        "HISTORY_SCHEDULER_POLL_SECONDS": "0.2",
        "HISTORY_SCHEDULER_LEASE_SECONDS": "5",
        **{f"{s}_DATABASE": f"rules_{s.lower()}" for s in ("INTAKE", "NOTIFIER", "HISTORY")},
        **{
            f"{s}_KAFKA_ENABLE_IDEMPOTENCE": str(base.kafka_idempotence).lower()
            for s in ("INTAKE", "ROUTER", "NOTIFIER", "HISTORY")
        },
    }
    config = StackConfig(
        data_dir=data_dir,
        ports=ports,
        topic_prefix=PREFIX,
        log_dir=data_dir / "logs",
        extra_env=env,
        external_kafka=base.kafka_bootstrap,
        external_mongo=base.mongo_url,
    )
    (data_dir / "logs").mkdir()
    stack = EmbeddedStack(config)
    await stack.create_topics()
    try:
        await stack.start_services(NEEDED)
        yield stack
    finally:
        await stack.stop()


async def read_all(
    bootstrap: str, topic: str, predicate: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Every message on `topic` up to its end now that satisfies `predicate`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []

        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in partitions])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [json.loads(r.value or b"{}") for r in records]
        return [m for m in found if predicate(m)]
    finally:
        await consumer.stop()


class Desk:
    def __init__(
        self,
        stack: EmbeddedStack,
        intake: httpx.AsyncClient,
        history: httpx.AsyncClient,
        maildir: Path,
    ) -> None:
        self.stack, self.intake, self.history, self.maildir = stack, intake, history, maildir

    @property
    def bootstrap(self) -> str:
        return self.stack.config.kafka_bootstrap

    async def submit(self, description: str, category: str = "account") -> dict[str, Any]:
        response = await self.intake.post(
            "/v1/tickets",
            headers=bearer(CUSTOMER),
            json={"category": category, "subject": "Help", "description": description},
        )
        assert response.status_code == 202, response.text
        ticket_id = response.json()["ticket_id"]
        [routed] = await read_topic(
            self.bootstrap,
            f"{PREFIX}tickets.routed",
            lambda e: e.get("ticket_id") == ticket_id,
            timeout=DEADLINE,
        )
        return routed

    async def act(self, path: str, body: dict[str, Any], headers: dict[str, str] = AGENT) -> None:
        await accepted(lambda: self.intake.post(path, headers=headers, json=body), timeout=DEADLINE)

    async def view(self, ticket_id: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            response = await self.history.get(f"/v1/tickets/{ticket_id}", headers=AGENT)
            body: dict[str, Any] = response.json() if response.status_code == 200 else {}
            return body if body and until(body) else None

        return await wait_until(
            probe, timeout=DEADLINE, what=f"{ticket_id} as wanted", interval=0.2
        )

    async def timers(self, ticket_id: str, key_prefix: str) -> int:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.stack.config.mongo_url)
        try:
            return await client["rules_history"]["timers"].count_documents(
                {"ticket_id": ticket_id, "key": {"$regex": f"^{key_prefix}"}, "fired": False}
            )
        finally:
            await client.close()


@pytest.fixture
async def help_desk(desk: EmbeddedStack, infra: EmbeddedStack) -> AsyncIterator[Desk]:
    async with (
        httpx.AsyncClient(base_url=desk.config.url("intake"), timeout=15) as intake,
        httpx.AsyncClient(base_url=desk.config.url("history"), timeout=15) as history,
    ):
        yield Desk(desk, intake, history, infra.config.maildir)  # the session's SMTP server


def clock(body: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(c for c in body["sla"] if c["metric"] == metric)


async def test_an_urgent_request_without_an_answer_breaches_once(help_desk: Desk) -> None:
    silent = await help_desk.submit(TAKEOVER)
    assert silent["priority"] == "urgent"
    team, ticket_id = silent["team"], silent["ticket_id"]
    answered = await help_desk.submit(TAKEOVER)
    moved = await help_desk.submit(TAKEOVER)
    await help_desk.act(f"/v1/tickets/{answered['ticket_id']}/replies", {"body": "We froze it."})
    await help_desk.act(
        f"/v1/tickets/{moved['ticket_id']}/transfers", {"team": "account", "reason": "Account"}
    )
    mine = {ticket_id, answered["ticket_id"], moved["ticket_id"]}

    def breach(e: dict[str, Any]) -> bool:
        return e.get("event_type") == "SlaBreached" and e.get("ticket_id") in mine

    # The silent one breaches on its team's topic, the moved one on the new team's, on time.
    [alert] = await read_topic(
        help_desk.bootstrap, f"{PREFIX}team.{team}", breach, timeout=DEADLINE
    )
    assert (alert["ticket_id"], alert["metric"], alert["target_seconds"]) == (
        ticket_id,
        "first_reply",
        FIRST_REPLY,
    )
    [kept] = await read_topic(
        help_desk.bootstrap, f"{PREFIX}team.account", breach, timeout=DEADLINE
    )
    assert kept["ticket_id"] == moved["ticket_id"]
    routed_at = datetime.fromisoformat(moved["occurred_at"])
    due = datetime.fromisoformat(kept["due_at"])
    assert abs(due - (routed_at + timedelta(seconds=FIRST_REPLY))) < timedelta(milliseconds=5)

    # The queue shows it breached, the agent's view says so, the stats count it.
    async def queued() -> dict[str, Any] | None:
        response = await help_desk.history.get(f"/v1/teams/{team}/queue", headers=AGENT)
        item = next((i for i in response.json()["items"] if i["ticket_id"] == ticket_id), None)
        return item if item and item["sla_breached"] else None

    item = await wait_until(queued, timeout=DEADLINE, what="the queue to show the breach")
    assert clock(item, "first_reply")["status"] == "breached"
    stats = (await help_desk.history.get("/v1/stats", headers=DASHBOARD)).json()
    row = next(
        r
        for r in stats["sla"]
        if (r["team"], r["priority"], r["metric"]) == (team, "urgent", "first_reply")
    )
    assert row["breached"] >= 1
    assert row["target_seconds"] == FIRST_REPLY

    # The answered one: its clock stopped in time, its timers are gone, nothing was published.
    body = await help_desk.view(answered["ticket_id"], lambda b: bool(b["first_reply_at"]))
    assert clock(body, "first_reply")["status"] == "met"
    assert await help_desk.timers(answered["ticket_id"], "first_reply") == 0
    assert row["met"] >= 1
    # Once: read each topic to its end now, long after the breaches.
    assert len(await read_all(help_desk.bootstrap, f"{PREFIX}team.{team}", breach)) == 1
    assert len(await read_all(help_desk.bootstrap, f"{PREFIX}team.account", breach)) == 1
    assert len(await read_all(help_desk.bootstrap, f"{PREFIX}tickets.sla", breach)) == 2
    # And the scheduler's metrics say so (what the Grafana panel plots).
    scheduler = help_desk.stack.config.url("history-scheduler")
    async with httpx.AsyncClient(timeout=10) as client:
        metrics = (await client.get(f"{scheduler}/metrics")).text
    assert (
        f'helpdesk_sla_alerts_total{{metric="first_reply",phase="breach",priority="urgent",'
        f'team="{team}"}} 1.0' in metrics
    )


async def test_pending_is_reminded_then_solved_then_closed_unless_the_customer_answers(
    help_desk: Desk,
) -> None:
    waiting = await help_desk.submit("How do I change the e-mail address of my account?")
    answers = await help_desk.submit("How do I change the e-mail address of my account?")
    for routed in (waiting, answers):
        await help_desk.act(
            f"/v1/tickets/{routed['ticket_id']}/replies",
            {"body": "Please send us a photo of your ID.", "status": "pending"},
        )
    await help_desk.act(
        f"/v1/tickets/{answers['ticket_id']}/comments", {"body": "Here it is."}, bearer(CUSTOMER)
    )
    ticket_id = waiting["ticket_id"]
    body = await help_desk.view(ticket_id, lambda b: b["status"] == "closed")
    kinds = [(e["kind"], e["details"].get("rule_id")) for e in body["timeline"]]
    assert ("reminder", "remind-pending") in kinds
    assert ("status_changed", "solve-pending") in kinds
    assert ("status_changed", "close-solved") in kinds
    [reminder] = await wait_for_mail(
        help_desk.maildir,
        lambda m: ticket_id in str(m["Subject"]) and "waiting" in str(m["Subject"]).lower(),
        timeout=DEADLINE,
    )
    assert reminder["To"]
    # The one the customer answered: open, never reminded, nothing pending for it.
    other = await help_desk.view(answers["ticket_id"], lambda b: b["status"] == "open")
    assert all(e["kind"] != "reminder" for e in other["timeline"])
    assert await help_desk.timers(answers["ticket_id"], "auto:") == 0
