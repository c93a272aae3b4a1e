"""Follow a support team's topic: `python -m shared.kafka.watch --team withdrawals-transfers`
(`make watch TEAM=withdrawals-transfers`).

It reads `team.<team>` in its own consumer group (`watch-<team>` unless `--group`), so it
neither disturbs nor is disturbed by any other consumer, and prints each message as it
arrives: a request routed to the team or moved here (ready to work on), withdrawn (moved
to another team: drop it), or an SLA warning or breach of one of the team's requests.
`--json` prints each message as one JSON line instead, for piping into the team's own
tools. This is the starting point for those tools: the messages are the `TeamMessage`
contract of `shared.contracts.events`, documented in the router's AsyncAPI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from shared.contracts.events import (
    SlaAlert,
    SlaBreached,
    TeamMessage,
    TicketAssigned,
    TicketWithdrawn,
    team_message_adapter,
)
from shared.contracts.topics import Topics


def describe(message: TeamMessage) -> str:
    """One readable line per message: when, what, which request, and why."""
    at = message.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(message, SlaAlert):
        kind = "SLA BREACH " if isinstance(message, SlaBreached) else "SLA warning"
        due = message.due_at.strftime("%H:%M:%S")
        what = message.metric.value.replace("_", " ")
        return (
            f"{at}  {kind}  {message.ticket_id}  {message.priority.value.upper()}  {what}"
            f" due {due} (target {message.target_seconds} s)"
        )
    if isinstance(message, TicketWithdrawn):
        move = message.transfer
        return (
            f"{at}  withdrawn    {message.ticket_id}  moved to {move.to_team} by"
            f" {move.agent_id}: {move.reason}"
        )
    assert isinstance(message, TicketAssigned)
    if message.transfer is not None:
        move = message.transfer
        how = f"moved here from {move.from_team} by {move.agent_id}: {move.reason}"
        kind = "transferred"
    else:
        how = f"{message.reason} ({message.confidence:.0%})"
        kind = "assigned   "
    flags = " ".join(
        f
        for f in (
            message.priority.value.upper() if message.priority.value != "normal" else "",
            "ID-DOCUMENTS-MISSING" if message.required_documents_missing else "",
        )
        if f
    )
    marks = f"{flags}  " if flags else ""
    return f"{at}  {kind}  {message.ticket_id}  {marks}{message.subject!r}  {how}"


async def watch(
    bootstrap: str,
    topic: str,
    group: str,
    *,
    as_json: bool,
    out: Callable[[str], None],
    stop: asyncio.Event,
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",  # a new group starts with what the team already has
        enable_auto_commit=True,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    raw = record.value or b""
                    try:
                        message = team_message_adapter.validate_json(raw)
                    except ValidationError:
                        out(f"(a message that is not a team message, offset {record.offset})")
                        continue
                    out(raw.decode() if as_json else describe(message))
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.kafka.watch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--team", required=True, help="e.g. withdrawals-transfers")
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    )
    parser.add_argument("--prefix", default="", help="the services' topic prefix")
    parser.add_argument("--group", help="consumer group (default: watch-<team>)")
    parser.add_argument("--json", action="store_true", help="one JSON message per line")
    args = parser.parse_args(argv)

    def out(line: str) -> None:
        print(line, flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        topic = Topics(args.prefix).team(args.team)
        print(f"watching {topic} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        await watch(
            args.bootstrap_servers,
            topic,
            args.group or f"watch-{args.team}",
            as_json=args.json,
            out=out,
            stop=stop,
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
