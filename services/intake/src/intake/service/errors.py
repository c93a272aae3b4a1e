"""What the intake's use cases refuse with, each mapped to one problem response (api/errors)."""

from __future__ import annotations

from datetime import timedelta

from intake.domain.submission import FieldError


class InvalidSubmissionError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


class PublishFailedError(RuntimeError):
    """The broker did not acknowledge in time. The event is kept in the request's outbox and
    will be published (by a retry with the same Idempotency-Key, or by the relay)."""


class RateLimitedError(RuntimeError):
    def __init__(self, what: str, limit: int, window: timedelta, retry_after_seconds: int) -> None:
        minutes = int(window.total_seconds() // 60)
        super().__init__(
            f"at most {limit} {what} per {minutes} minutes; the next one is possible in"
            f" {retry_after_seconds} seconds"
        )
        self.retry_after_seconds = retry_after_seconds


class TicketNotFoundError(LookupError):
    """Unknown, or not the caller's: the two read the same, so ids cannot be probed."""


class AttachmentNotFoundError(LookupError):
    pass


class ConcurrentUpdateError(RuntimeError):
    """The status kept changing under us; the caller may retry."""
