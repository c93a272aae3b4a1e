"""Use-case errors as problem+json: one table from error type to its problem, the same shape
as every other error of the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.requests import ClientDisconnect

from intake.adapters.multipart import FieldTooLargeError, MalformedBodyError, UnexpectedFieldError
from intake.domain.activity import ClosedRequestError
from intake.domain.attachments import AttachmentRejectedError
from intake.domain.recovery import LinkState
from intake.domain.teams import (
    NotPlacedYetError,
    NotTeamAgentError,
    SameTeamError,
    UnknownTeamError,
)
from intake.service.errors import (
    AttachmentNotFoundError,
    ConcurrentUpdateError,
    InvalidSubmissionError,
    PublishFailedError,
    RateLimitedError,
    TicketNotFoundError,
)
from intake.service.idempotency import IdempotencyKeyReusedError, RequestInProgressError
from intake.service.recovery import RecoveryLinkError
from shared.contracts.statuses import IllegalTransitionError
from shared.http.problems import InvalidParam, ProblemError, problem_response
from shared.kafka.records import TransientError

# Kafka or MongoDB unreachable: the infrastructure, not the request, so the client may retry
# as is; a broker or database restart takes seconds.
_RETRY_SOON = {"Retry-After": "5"}


def _field_name(field: str) -> str:
    return field if field.startswith("attachments") else f"body.{field}"


def _invalid(exc: InvalidSubmissionError) -> ProblemError:
    params = [InvalidParam(name=_field_name(e.field), reason=e.reason) for e in exc.errors]
    return ProblemError(422, "Validation failed", str(exc), invalid_params=params)


def _rejected_file(exc: AttachmentRejectedError) -> ProblemError:
    param = [InvalidParam(name=f"attachments[{exc.index}]", reason=exc.reason)]
    if exc.kind == "type":
        return ProblemError(415, "Unsupported media type", str(exc), invalid_params=param)
    return ProblemError(413, "Content too large", str(exc), invalid_params=param)


def _field(
    status: int, title: str
) -> Callable[[FieldTooLargeError | UnexpectedFieldError], ProblemError]:
    def problem(exc: FieldTooLargeError | UnexpectedFieldError) -> ProblemError:
        param = [InvalidParam(name=exc.name, reason=exc.reason)]
        return ProblemError(status, title, str(exc), invalid_params=param)

    return problem


def _team_param(status: int, title: str) -> Callable[[Exception], ProblemError]:
    def problem(exc: Exception) -> ProblemError:
        param = [InvalidParam(name="body.team", reason=str(exc))]
        return ProblemError(status, title, str(exc), invalid_params=param)

    return problem


def _key_reused(exc: IdempotencyKeyReusedError) -> ProblemError:
    param = [InvalidParam(name="header.Idempotency-Key", reason=str(exc))]
    return ProblemError(422, "Idempotency key reused", str(exc), invalid_params=param)


Rule = Callable[[Exception], ProblemError]
E = TypeVar("E", bound=Exception)


def _rule(kind: type[E], make: Callable[[E], ProblemError]) -> tuple[type[Exception], Rule]:
    def apply(exc: Exception) -> ProblemError:
        assert isinstance(exc, kind)
        return make(exc)

    return kind, apply


def _unavailable(detail: str) -> ProblemError:
    return ProblemError(503, "Service unavailable", detail, headers=_RETRY_SOON)


def _recovery_link(exc: RecoveryLinkError) -> ProblemError:
    if exc.state is LinkState.INVALID:
        return ProblemError(404, "Not found", str(exc))
    return ProblemError(410, "Gone", str(exc))


def _not_found(_: Exception) -> ProblemError:
    return ProblemError(404, "Not found", "no such request or attachment")


# Looked up along the error's class hierarchy, most specific first.
PROBLEMS: dict[type[Exception], Rule] = dict(
    [
        _rule(InvalidSubmissionError, _invalid),
        _rule(AttachmentRejectedError, _rejected_file),
        _rule(FieldTooLargeError, _field(413, "Content too large")),
        _rule(UnexpectedFieldError, _field(422, "Validation failed")),
        _rule(MalformedBodyError, lambda e: ProblemError(400, "Bad request", str(e))),
        # ...or cut off by the body limit, which has answered already.
        _rule(
            ClientDisconnect,
            lambda e: ProblemError(400, "Bad request", "the request body did not arrive whole"),
        ),
        _rule(
            RateLimitedError,
            lambda e: ProblemError(
                429,
                "Too many requests",
                str(e),
                headers={"Retry-After": str(e.retry_after_seconds)},
            ),
        ),
        _rule(IdempotencyKeyReusedError, _key_reused),
        _rule(
            RequestInProgressError,
            lambda e: ProblemError(
                409,
                "Request in progress",
                f"{e}; retry",
                headers={"Retry-After": str(e.retry_after_seconds)},
            ),
        ),
        _rule(TicketNotFoundError, _not_found),
        _rule(RecoveryLinkError, _recovery_link),
        _rule(AttachmentNotFoundError, _not_found),
        _rule(IllegalTransitionError, lambda e: ProblemError(409, "Conflict", str(e))),
        _rule(ClosedRequestError, lambda e: ProblemError(409, "Conflict", str(e))),
        _rule(
            ConcurrentUpdateError,
            lambda e: ProblemError(409, "Conflict", str(e), headers={"Retry-After": "1"}),
        ),
        _rule(
            PublishFailedError,
            lambda e: _unavailable(
                "recorded, but its delivery was not confirmed in time: it will be delivered,"
                " and a retry with the same Idempotency-Key returns it without making a copy"
            ),
        ),
        _rule(UnknownTeamError, _team_param(422, "Validation failed")),
        _rule(SameTeamError, _team_param(409, "Conflict")),
        _rule(
            NotPlacedYetError,
            lambda e: ProblemError(409, "Conflict", str(e), headers={"Retry-After": "2"}),
        ),
        _rule(
            NotTeamAgentError,
            lambda e: ProblemError(
                422,
                "Validation failed",
                str(e),
                invalid_params=[InvalidParam(name="body.assignee", reason=str(e))],
            ),
        ),
        _rule(ConnectionFailure, lambda e: _unavailable("could not be recorded; retry")),
        _rule(TransientError, lambda e: _unavailable("could not be recorded; retry")),
    ]
)


def problem_for(exc: Exception) -> ProblemError:
    for cls in type(exc).__mro__:
        rule = PROBLEMS.get(cls)
        if rule is not None:
            return rule(exc)
    raise LookupError(f"no problem mapped for {type(exc).__name__}")


def install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = problem_for(exc)
        problem = error.problem.model_copy(update={"instance": request.url.path})
        return problem_response(problem, headers=error.headers)

    for error in PROBLEMS:
        app.add_exception_handler(error, handle)
