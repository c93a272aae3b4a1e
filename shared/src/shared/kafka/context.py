"""What a handler knows about the message it handles: every log line written while handling
carries the record's event id, ticket id and correlation id, and batch handlers that decode
each record themselves reach the records through `current_records()`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream.message import StreamMessage

from shared.kafka.records import InboundRecord

_current_message: ContextVar[StreamMessage[Any] | None] = ContextVar(
    "current_message", default=None
)


def batch_records(msg: StreamMessage[Any]) -> list[InboundRecord]:
    raw = msg.raw_message
    records = raw if isinstance(raw, tuple | list) else (raw,)
    return [InboundRecord.from_consumer_record(r) for r in records]


def current_message() -> StreamMessage[Any]:
    """The message being handled (set by MessageContextMiddleware)."""
    msg = _current_message.get()
    if msg is None:
        raise RuntimeError("current_message() called outside a message handler")
    return msg


def current_records() -> list[InboundRecord]:
    """The records of the message being handled: for batch handlers that decode each record
    themselves (and dead-letter one without the others)."""
    msg = _current_message.get()
    if msg is None:
        raise RuntimeError("current_records() called outside a message handler")
    return batch_records(msg)


async def raw_body(msg: StreamMessage[Any]) -> Any:
    """Subscriber decoder that leaves bytes alone: the handler decodes each record itself,
    so one poison record in a batch is dead-lettered alone."""
    return msg.body


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


def _record_meta(msg: StreamMessage[Any]) -> dict[str, Any]:
    raw = msg.raw_message
    record = raw[0] if isinstance(raw, tuple | list) else raw
    return {
        "topic": getattr(record, "topic", None),
        "partition": getattr(record, "partition", None),
        "offset": getattr(record, "offset", None),
    }


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
