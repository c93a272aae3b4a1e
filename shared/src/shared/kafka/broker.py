"""The broker every service builds, and the one way a consumer is declared: in batches, in its
own group, committing only after the effect (FastStream `AckPolicy.NACK_ON_ERROR`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pydantic import SkipValidation

from shared.contracts.topics import Topics
from shared.kafka.context import MessageContextMiddleware, current_records, raw_body
from shared.kafka.dead_letters import dead_letter_middleware
from shared.kafka.records import InboundRecord
from shared.logging import get_logger
from shared.metrics import ServiceMetrics
from shared.settings import BatchConsumerSettings, ServiceSettings

# Consumers commit after the effect is done; on an error the dead-letter middleware decides.
CONSUMER_ACK_POLICY = AckPolicy.NACK_ON_ERROR

BatchHandler = Callable[[list[InboundRecord]], Awaitable[None]]


def create_broker(
    settings: ServiceSettings,
    service: str,
    *,
    description: str = "",
    metrics: ServiceMetrics | None = None,
) -> KafkaBroker:
    observing = metrics.broker_middlewares() if metrics else ()  # outermost: sees it all
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=service,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        linger_ms=5,
        middlewares=(*observing, MessageContextMiddleware, dead_letter_middleware(service)),
        logger=get_logger(f"{service}.kafka"),
        log_level=logging.DEBUG,  # "Received"/"Processed" per message: too loud for INFO
        description=description,
        graceful_timeout=30.0,
    )


def consumer_options(group_id: str) -> dict[str, Any]:
    """Subscriber settings every consumer uses: its own group, commit after the effect."""
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": CONSUMER_ACK_POLICY,
        "max_poll_interval_ms": 300_000,
    }


def batch_subscriber(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    title: str,
    settings: BatchConsumerSettings,
    payload: Any,
    description: str = "",
) -> Callable[[BatchHandler], BatchHandler]:
    """Declare `handle` as the consumer of `topics` in batches. It receives the batch's raw
    records and decodes each itself (`shared.kafka.records.decode_records`), so one poison
    record is dead-lettered alone while the rest of the batch goes on.

    `payload` is the event type (or union) the topics carry: what the AsyncAPI document shows.
    The body is not validated against it here (SkipValidation): validating the batch as a
    whole would make one poison record fail all the others. Each topic's dead-letter topic
    is declared too, since this consumer publishes there."""

    def declare(handle: BatchHandler) -> BatchHandler:
        async def consume(batch: Any) -> None:
            await handle(current_records())

        consume.__annotations__ = {"batch": list[SkipValidation[payload]], "return": None}
        broker.subscriber(
            *topics,
            batch=True,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            decoder=raw_body,
            title=title,
            description=description or None,
            **consumer_options(group_id),
        )(consume)
        declare_dead_letters(broker, topics, title=title, group_id=group_id)
        return handle

    return declare


def declare_dead_letters(
    broker: KafkaBroker, topics: Sequence[str], *, title: str, group_id: str
) -> None:
    """Each topic's dead-letter topic, for the AsyncAPI document: its consumer publishes there."""
    for topic in topics:
        broker.publisher(
            Topics.dlq(topic),
            title=f"{title}:{Topics.dlq(topic)}",
            description=f"Records of {topic} that {group_id} could not process: the"
            " original bytes and headers plus x-dlq-error, x-dlq-error-type,"
            " x-dlq-service, x-dlq-attempts and x-dlq-original-topic/partition/offset",
            schema=bytes,
        )
