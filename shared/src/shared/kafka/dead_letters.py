"""Dead-lettering: a message that cannot be processed goes to `<topic>.dlq` with its original
bytes and headers plus what an operator needs (error, service, attempts, origin). Poison goes
there at once, a handler that keeps failing after `max_attempts`; transient infrastructure
errors are retried and never dead-lettered (the message is fine; the consumer waits)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from shared.contracts.events import header_safe
from shared.contracts.topics import Topics
from shared.kafka.context import batch_records, log_context
from shared.kafka.errors import TRANSIENT_ERRORS, describe_error, worth_retrying
from shared.kafka.records import DeadLetterSink, InboundRecord
from shared.logging import get_logger

log = get_logger(__name__)


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


class KafkaDeadLetters:
    """The DeadLetterSink port on a FastStream Kafka broker."""

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

    async def isolate(self, record: InboundRecord, handle: Callable[[], Awaitable[None]]) -> None:
        await handle_isolated(record, handle, self)


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
