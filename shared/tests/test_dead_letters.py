"""Poison handling in the shared Kafka middleware, in memory (FastStream's TestKafkaBroker)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import structlog
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from shared.kafka.broker import consumer_options
from shared.kafka.context import MessageContextMiddleware, raw_body
from shared.kafka.dead_letters import dead_letter_middleware, handle_isolated
from shared.kafka.records import InboundRecord, TransientError

pytestmark = pytest.mark.unit


class Thing(BaseModel):
    name: str


def broker_with_handler(behaviour: dict[str, Any]) -> tuple[KafkaBroker, list[str], list[Any]]:
    broker = KafkaBroker(
        middlewares=(
            MessageContextMiddleware,
            dead_letter_middleware("svc", transient_backoff=(0, 0)),
        )
    )
    handled: list[str] = []
    dead: list[Any] = []

    @broker.subscriber("in", **consumer_options("svc"))
    async def handle(thing: Thing) -> None:
        behaviour["calls"] = behaviour.get("calls", 0) + 1
        if thing.name == "bug":
            raise RuntimeError("handler bug")
        if thing.name == "flaky" and behaviour["calls"] < 2:
            raise TransientError("mongo away")
        handled.append(thing.name)

    @broker.subscriber("in.dlq", decoder=raw_body)
    async def dlq(body: Any, message: KafkaMessage) -> None:
        dead.append((body, message.headers))

    return broker, handled, dead


async def test_poison_goes_to_the_dlq_and_the_consumer_keeps_going() -> None:
    behaviour: dict[str, Any] = {}
    broker, handled, dead = broker_with_handler(behaviour)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"\xff\xfe not json", topic="in")
        await test_broker.publish({"wrong": "shape"}, topic="in")
        await test_broker.publish({"name": "good"}, topic="in")
    assert handled == ["good"]
    assert [body for body, _ in dead] == [b"\xff\xfe not json", b'{"wrong":"shape"}']
    headers = dead[0][1]
    assert headers["x-dlq-service"] == "svc"
    assert headers["x-dlq-original-topic"] == "in"
    assert headers["x-dlq-error-type"] == "ValidationError"


async def test_a_failing_handler_is_retried_then_dead_lettered_with_the_error() -> None:
    behaviour: dict[str, Any] = {}
    broker, handled, dead = broker_with_handler(behaviour)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"name": "bug"}, topic="in", headers={"event_id": "e-1"})
    assert behaviour["calls"] == 3
    assert handled == []
    ((_, headers),) = dead
    assert headers["x-dlq-attempts"] == "3"
    assert headers["x-dlq-error"] == "handler bug"
    assert headers["event_id"] == "e-1"  # the original headers travel with it


async def test_transient_errors_are_retried_not_dead_lettered() -> None:
    behaviour: dict[str, Any] = {}
    broker, handled, dead = broker_with_handler(behaviour)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"name": "flaky"}, topic="in")
    assert handled == ["flaky"]
    assert dead == []


# -- one record inside a batch: handle_isolated ------------------------------------------------


class RecordingSink:
    def __init__(self) -> None:
        self.sent: list[tuple[InboundRecord, str, int]] = []

    async def send(self, record: InboundRecord, error: BaseException, attempts: int = 1) -> None:
        self.sent.append((record, type(error).__name__, attempts))


RECORD = InboundRecord(
    topic="in",
    partition=2,
    offset=17,
    key=b"T-1",
    value=b"{}",
    headers={"ticket_id": "T-1", "event_id": "e-1"},
)


def failing(errors: list[BaseException]) -> tuple[Callable[[], Awaitable[None]], list[int]]:
    """A handler that raises `errors` one per call, then succeeds; and its call count."""
    calls = [0]

    async def handle() -> None:
        calls[0] += 1
        if errors:
            raise errors.pop(0)

    return handle, calls


async def test_isolated_poison_is_dead_lettered_at_once_and_not_raised() -> None:
    sink = RecordingSink()
    handle, calls = failing([ValueError("bad shape")])
    await handle_isolated(RECORD, handle, sink)
    assert calls == [1]
    assert sink.sent == [(RECORD, "ValueError", 1)]


async def test_isolated_failure_is_retried_then_dead_lettered() -> None:
    sink = RecordingSink()
    handle, calls = failing([RuntimeError("bug"), RuntimeError("bug")])
    await handle_isolated(RECORD, handle, sink)
    assert (calls, sink.sent) == ([3], [])  # third attempt succeeded

    handle, calls = failing([RuntimeError("bug")] * 3)
    await handle_isolated(RECORD, handle, sink)
    assert calls == [3]
    assert sink.sent == [(RECORD, "RuntimeError", 3)]


async def test_isolated_transient_error_propagates_for_the_batch_to_be_redelivered() -> None:
    sink = RecordingSink()
    handle, calls = failing([ConnectionError("mongo away")])
    with pytest.raises(ConnectionError):
        await handle_isolated(RECORD, handle, sink)
    assert (calls, sink.sent) == ([1], [])


async def test_isolated_log_lines_carry_the_records_context() -> None:
    seen: dict[str, Any] = {}

    async def handle() -> None:
        seen.update(structlog.contextvars.get_contextvars())

    await handle_isolated(RECORD, handle, RecordingSink())
    assert seen["ticket_id"] == "T-1"
    assert (seen["event_id"], seen["partition"], seen["offset"]) == ("e-1", 2, 17)
    assert "ticket_id" not in structlog.contextvars.get_contextvars()  # unbound afterwards
