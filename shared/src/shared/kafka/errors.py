"""Which failures a consumer retries and which it dead-letters, and how an error is described
without the input that caused it."""

from __future__ import annotations

from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from fastapi.exceptions import ValidationException
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, WriteConcernError

from shared.kafka.records import TransientError
from shared.logging import get_logger, redact_text

log = get_logger(__name__)

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


def worth_retrying(error: Exception, attempt: int, max_attempts: int) -> bool:
    """A failing handler is retried in place (and the retry logged) unless the message is
    poison or it has had `max_attempts`; then it is dead-lettered."""
    if isinstance(error, POISON_ERRORS) or attempt >= max_attempts:
        return False
    log.warning("handler failed, retrying", error=describe_error(error), attempt=attempt)
    return True
