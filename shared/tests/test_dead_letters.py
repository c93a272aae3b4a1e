"""Poison handling in the shared Kafka middleware, in memory (FastStream's TestKafkaBroker)."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from shared.kafka import (
    MessageContextMiddleware,
    TransientError,
    consumer_options,
    dead_letter_middleware,
    raw_body,
)

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
