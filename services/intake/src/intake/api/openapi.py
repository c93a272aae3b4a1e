"""OpenAPI documentation FastAPI cannot infer: bodies that are JSON or multipart on one
endpoint, and an example of every problem+json error."""

from __future__ import annotations

from typing import Any

from intake.api.schemas import TicketRequest
from intake.domain.attachments import ALLOWED_TYPES
from shared.http.problems import PROBLEM_JSON, problem_responses

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def example(status_code: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status_code, "detail": detail, **extra}


EXAMPLES: dict[int, dict[str, Any]] = {
    400: example(400, "Bad request", "the body ended before the closing boundary"),
    401: example(401, "Invalid token", "Signature has expired"),
    403: example(403, "Forbidden", "this action needs the role: customer"),
    404: example(404, "Not found", "no such request"),
    409: example(
        409,
        "Conflict",
        "cannot change status from solved to pending: allowed from solved: closed, open",
    ),
    413: example(
        413,
        "Content too large",
        "attachments[3]: larger than 10 MiB",
        **{"invalid-params": [{"name": "attachments[3]", "reason": "larger than 10 MiB"}]},
    ),
    415: example(
        415,
        "Unsupported media type",
        "attachments[1]: not an image, PDF or UTF-8 text",
        **{
            "invalid-params": [
                {"name": "attachments[1]", "reason": "not an image, PDF or UTF-8 text"}
            ]
        },
    ),
    422: example(
        422,
        "Validation failed",
        "body.description: at least 10 characters",
        **{"invalid-params": [{"name": "body.description", "reason": "at least 10 characters"}]},
    ),
    429: example(
        429,
        "Too many requests",
        "at most 20 new requests per 60 minutes; the next one is possible in 1312 seconds",
    ),
    503: example(503, "Service unavailable", "could not be recorded; retry"),
}


def problems(
    *statuses: int, examples: dict[int, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """problem_responses with an example per status, and Retry-After where we send it."""
    responses = problem_responses(*statuses)
    chosen = EXAMPLES | (examples or {})
    for code in statuses:
        entry = responses[code]
        if code in chosen:
            entry["content"][PROBLEM_JSON]["example"] = chosen[code]
        if code in (409, 429, 503):
            entry["headers"] = RETRY_AFTER
    return responses


_FILES: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "format": "binary"},
    "maxItems": 10,
    "description": (
        "Repeat the field for each file. Types, judged from the bytes: "
        + ", ".join(ALLOWED_TYPES)
        + "; at most 10 files of 10 MiB each"
    ),
}
_TEXT: dict[str, dict[str, Any]] = {
    "subject": {"type": "string", "maxLength": 200},
    "description": {"type": "string", "minLength": 10, "maxLength": 20000},
    "locale": {"type": "string", "default": "en"},
}


def _multipart(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """A multipart/form-data body with `attachments` (at least one file if required)."""
    files = _FILES | ({"minItems": 1} if "attachments" in required else {})
    return {
        "schema": {
            "type": "object",
            "required": required,
            "properties": properties | {"attachments": files},
        },
        "encoding": {"attachments": {"contentType": ", ".join(ALLOWED_TYPES)}},
    }


SUBMISSION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": TicketRequest.model_json_schema(),
                "examples": {
                    "withdrawal": {
                        "summary": "A question, no files",
                        "value": TicketRequest.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                    }
                },
            },
            "multipart/form-data": _multipart(
                ["category", "subject", "description"],
                {"category": {"type": "string", "examples": ["disable-2fa"]}} | _TEXT,
            ),
        },
    }
}

DOCUMENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": _multipart(["attachments"], {})},
    }
}

RECOVERY_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": _multipart(
                ["token", "subject", "description", "attachments"],
                {"token": {"type": "string", "description": "The link's token"}} | _TEXT,
            )
        },
    }
}
