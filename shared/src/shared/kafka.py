"""Kafka plumbing shared by the services: the FastStream router factory, event publishing with
the ticket id as key (so one request's events stay ordered in one partition), per-message log
context, and dead-lettering of messages that cannot be processed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from fastapi.exceptions import ValidationException
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pydantic import TypeAdapter, ValidationError
from pymongo.errors import ConnectionFailure, WriteConcernError

from shared.events import Envelope, header_safe
from shared.logging import get_logger, redact_text
from shared.metrics import ServiceMetrics
from shared.settings import ServiceSettings
from shared.topics import Topics

log = get_logger(__name__)
T = TypeVar("T")

# Consumers commit after the effect is done; on an error the middleware below decides.
CONSUMER_ACK_POLICY = AckPolicy.NACK_ON_ERROR


class TransientError(Exception):
    """A failure of something outside the message (a server down): retry, never dead-letter."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionFailure,
    WriteConcernError,
    KafkaConnectionError,
    KafkaTimeoutError,
    ConnectionError,
    TimeoutError,
)

# Errors that redelivery cannot fix: the message itself is bad. (FastStream's FastAPI
# integration reports a body that fails the handler's signature as FastAPI's validation error.)
POISON_ERRORS: tuple[type[BaseException], ...] = (
    ValidationError,
    ValidationException,
    ValueError,
    UnicodeDecodeError,
)


def describe_error(error: BaseException) -> str:
    """The error for logs and DLQ headers, without the offending input values: those are the
    message's content (addresses, tokens, customer text), which must stay in the payload."""
    if isinstance(error, ValidationError):
        details: list[Any] = list(error.errors(include_input=False, include_url=False))
    elif isinstance(error, ValidationException):
        details = [{k: v for k, v in dict(e).items() if k != "input"} for e in error.errors()]
    else:
        return redact_text(str(error))
    parts = [f"{'.'.join(map(str, d.get('loc', ())))}: {d.get('msg')}" for d in details]
    return redact_text(f"{len(parts)} validation error(s): " + "; ".join(parts))


def event_headers(event: Envelope) -> dict[str, str]:
    return {
        "event_type": event.event_type,
        "event_id": str(event.event_id),
        "ticket_id": event.ticket_id,
        "correlation_id": header_safe(event.correlation_id),
        "schema_version": str(event.schema_version),
        "content-type": "application/json",
    }


async def publish_event(broker: KafkaBroker, topic: str, event: Envelope) -> None:
    """Publish and wait for the broker's acknowledgement (acks=all)."""
    await publish_events(broker, [(topic, event)])


async def publish_events(broker: KafkaBroker, items: Iterable[tuple[str, Envelope]]) -> None:
    """Publish many events at once (the producer batches them) and wait for every ack."""
    futures = [
        await broker.publish(
            event.model_dump_json().encode(),
            topic=topic,
            key=event.ticket_id.encode(),
            headers=event_headers(event),
            correlation_id=event.correlation_id,
            no_confirm=True,
        )
        for topic, event in items
    ]
    # (FastStream's in-memory TestKafkaBroker delivers at once and returns no future.)
    pending = [f for f in futures if inspect.isawaitable(f)]
    if pending:
        await asyncio.gather(*pending)


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


def _record_meta(msg: StreamMessage[Any]) -> dict[str, Any]:
    raw = msg.raw_message
    record = raw[0] if isinstance(raw, tuple | list) else raw
    return {
        "topic": getattr(record, "topic", None),
        "partition": getattr(record, "partition", None),
        "offset": getattr(record, "offset", None),
    }


_current_message: ContextVar[StreamMessage[Any] | None] = ContextVar(
    "current_message", default=None
)


def current_records() -> list[InboundRecord]:
    """The records of the message being handled: for batch handlers that decode each record
    themselves (and dead-letter one without the others)."""
    msg = _current_message.get()
    if msg is None:
        raise RuntimeError("current_records() called outside a message handler")
    return batch_records(msg)


class MessageContextMiddleware(BaseMiddleware):
    """Binds event_id, ticket_id and correlation_id to every log line written while handling,
    and makes the message reachable through current_records()."""

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        token = _current_message.set(msg)
        context = log_context(msg.headers or {}, _record_meta(msg), msg.correlation_id)
        try:
            with structlog.contextvars.bound_contextvars(**context):
                return await call_next(msg)
        finally:
            _current_message.reset(token)


def log_context(
    headers: Mapping[str, Any], source: Mapping[str, Any], correlation_id: str | None = None
) -> dict[str, Any]:
    """What every log line written while handling a record says about the record."""
    return {
        "event_id": headers.get("event_id"),
        "event_type": headers.get("event_type"),
        "ticket_id": headers.get("ticket_id"),
        "correlation_id": headers.get("correlation_id") or correlation_id,
        **source,
    }


def dead_letter_headers(
    headers: dict[str, Any],
    *,
    error: BaseException,
    service: str,
    attempts: int,
    source: dict[str, Any],
) -> dict[str, str]:
    """The original headers plus what an operator needs to understand and re-drive the message."""
    merged = {k: str(v) for k, v in headers.items() if not k.startswith("x-dlq-")}
    merged.update(
        {
            "x-dlq-error-type": type(error).__name__,
            "x-dlq-error": header_safe(describe_error(error))[:2000],
            "x-dlq-service": service,
            "x-dlq-attempts": str(attempts),
            "x-dlq-original-topic": str(source.get("topic")),
            "x-dlq-original-partition": str(source.get("partition")),
            "x-dlq-original-offset": str(source.get("offset")),
        }
    )
    return merged


async def send_to_dead_letter(
    broker: KafkaBroker,
    *,
    topic: str,
    key: bytes | None,
    value: bytes,
    headers: dict[str, Any],
    error: BaseException,
    service: str,
    attempts: int,
    source: dict[str, Any],
) -> None:
    await broker.publish(
        value,
        topic=Topics.dlq(topic),
        key=key,
        headers=dead_letter_headers(
            headers, error=error, service=service, attempts=attempts, source=source
        ),
    )
    log.error(
        "message dead-lettered",
        error_type=type(error).__name__,
        error=describe_error(error)[:500],
        dlq=Topics.dlq(topic),
        attempts=attempts,
    )


def worth_retrying(error: Exception, attempt: int, max_attempts: int) -> bool:
    """A failing handler is retried in place (and the retry logged) unless the message is
    poison or it has had `max_attempts`; then it is dead-lettered."""
    if isinstance(error, POISON_ERRORS) or attempt >= max_attempts:
        return False
    log.warning("handler failed, retrying", error=describe_error(error), attempt=attempt)
    return True


def dead_letter_middleware(
    service: str,
    *,
    max_attempts: int = 3,
    transient_backoff: Sequence[float] = (0.2, 0.5, 1, 2, 5, 10),
) -> type[BaseMiddleware]:
    """Middleware class: poison goes to `<topic>.dlq` at once, a failing handler after
    `max_attempts`, transient infrastructure errors are retried with backoff and never
    dead-lettered (the message is fine; the consumer waits for the infrastructure).
    """

    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(
            self,
            call_next: Callable[[StreamMessage[Any]], Awaitable[Any]],
            msg: StreamMessage[Any],
        ) -> Any:
            attempt = 0
            while True:
                attempt += 1
                try:
                    return await call_next(msg)
                except TRANSIENT_ERRORS as exc:
                    if attempt > len(transient_backoff):
                        raise  # nack: the message is redelivered from its offset
                    log.warning(
                        "transient failure, retrying", error=describe_error(exc), attempt=attempt
                    )
                    await asyncio.sleep(transient_backoff[attempt - 1])
                except Exception as exc:
                    if worth_retrying(exc, attempt, max_attempts):
                        continue
                    await self._dead_letter(msg, exc, attempt)
                    return None

        async def _dead_letter(
            self, msg: StreamMessage[Any], exc: Exception, attempts: int
        ) -> None:
            dead_letters = KafkaDeadLetters(self.context.get("broker"), service)
            for record in batch_records(msg):
                await dead_letters.send(record, exc, attempts)

    return DeadLetterMiddleware


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One consumed Kafka record, as a handler that decodes for itself sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @classmethod
    def from_consumer_record(cls, record: Any) -> InboundRecord:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value or b"",
            headers={k: v.decode(errors="replace") for k, v in record.headers},
        )

    @property
    def source(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


def batch_records(msg: StreamMessage[Any]) -> list[InboundRecord]:
    raw = msg.raw_message
    records = raw if isinstance(raw, tuple | list) else (raw,)
    return [InboundRecord.from_consumer_record(r) for r in records]


async def raw_body(msg: StreamMessage[Any]) -> Any:
    """Subscriber decoder that leaves bytes alone: the handler decodes each record itself,
    so one poison record in a batch is dead-lettered alone."""
    return msg.body


class KafkaDeadLetters:
    def __init__(self, broker: KafkaBroker, service: str) -> None:
        self._broker = broker
        self._service = service

    async def send(self, record: InboundRecord, error: BaseException, attempts: int = 1) -> None:
        await send_to_dead_letter(
            self._broker,
            topic=record.topic,
            key=record.key,
            value=record.value,
            headers=record.headers,
            error=error,
            service=self._service,
            attempts=attempts,
            source=record.source,
        )


class KafkaEventPublisher:
    """The EventPublisher port every service uses, on a FastStream Kafka broker."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, topic: str, event: Envelope) -> None:
        await publish_event(self._broker, topic, event)

    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        await publish_events(self._broker, items)


class DeadLetterSink(Protocol):
    async def send(
        self, record: InboundRecord, error: BaseException, attempts: int = 1
    ) -> None: ...


async def decode_records(
    records: Iterable[InboundRecord],
    adapter: TypeAdapter[T],
    dead_letters: DeadLetterSink,
) -> list[tuple[InboundRecord, T]]:
    """Each record with its decoded event; a record that does not decode goes to the DLQ alone."""
    decoded = []
    for record in records:
        try:
            decoded.append((record, adapter.validate_json(record.value)))
        except ValidationError as exc:
            await dead_letters.send(record, exc)
    return decoded


async def decode_batch(
    records: Iterable[InboundRecord],
    adapter: TypeAdapter[T],
    dead_letters: DeadLetterSink,
) -> list[T]:
    """The decoded events; a record that does not decode goes to the DLQ alone."""
    return [event for _, event in await decode_records(records, adapter, dead_letters)]


async def handle_isolated(
    record: InboundRecord,
    handle: Callable[[], Awaitable[None]],
    dead_letters: DeadLetterSink,
    *,
    max_attempts: int = 3,
) -> None:
    """One record's handling inside a batch, under dead_letter_middleware's policy applied to
    this record alone: poison, or an error that persists `max_attempts`, sends it to the DLQ
    while the rest of the batch goes on; a transient infrastructure error propagates, so the
    middleware retries the batch and, failing that, it is redelivered. Log lines carry the
    record's context, as MessageContextMiddleware gives a single message's."""
    context = log_context(record.headers, record.source)
    with structlog.contextvars.bound_contextvars(**context):
        attempt = 0
        while True:
            attempt += 1
            try:
                await handle()
                return
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:
                if worth_retrying(exc, attempt, max_attempts):
                    continue
                await dead_letters.send(record, exc, attempt)
                return
