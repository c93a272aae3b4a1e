"""Every log line written while a message is handled carries its event, ticket and correlation."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from shared.contracts.events import TicketSubmitted, new_ticket_id
from shared.kafka.broker import consumer_options
from shared.kafka.context import MessageContextMiddleware
from shared.kafka.publishing import event_headers
from shared.logging import configure_logging, get_logger

pytestmark = pytest.mark.unit


async def test_handler_log_lines_carry_the_message_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("svc", "json", "INFO")
    broker = KafkaBroker(middlewares=(MessageContextMiddleware,))

    @broker.subscriber("t", **consumer_options("svc"))
    async def handle(event: TicketSubmitted) -> None:
        get_logger("handler").info("handling", category=event.category)

    event = TicketSubmitted(
        ticket_id=new_ticket_id(),
        account_id="acc-1001",
        correlation_id="corr-9",
        category="cards",
        subject="s",
        description="d",
    )
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            event.model_dump_json().encode(), topic="t", headers=event_headers(event)
        )
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    handling = next(line for line in lines if line["event"] == "handling")
    assert handling["event_id"] == str(event.event_id)
    assert handling["ticket_id"] == event.ticket_id
    assert handling["correlation_id"] == "corr-9"
    assert handling["service"] == "svc"
