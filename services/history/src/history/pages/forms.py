"""Reading a page's form post, and showing the intake's refusals next to their fields."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from history.ports import IntakeAnswer, Upload

MAX_FIELD_BYTES = 128 * 1024


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "translate later"
    return message


class BadFormError(ValueError):
    """The post is not a form we can read (malformed, too many parts)."""


@dataclass
class PageForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


@asynccontextmanager
async def page_form(request: Request, *, max_files: int) -> AsyncIterator[PageForm]:
    """The form's text fields and files (spooled to disk past 1 MiB by Starlette), open
    for as long as the caller forwards them."""
    try:
        async with request.form(
            max_files=max_files, max_fields=32, max_part_size=MAX_FIELD_BYTES
        ) as data:
            form = PageForm()
            for name, value in data.multi_items():
                if isinstance(value, UploadFile):
                    if value.filename:  # an empty file input sends a nameless empty part
                        form.files.append(
                            Upload(
                                value.filename,
                                value.content_type or "application/octet-stream",
                                value.file,
                            )
                        )
                elif name in form.fields:
                    raise BadFormError(f"{name} given more than once")
                else:
                    form.fields[name] = value
            yield form
    except MultiPartException as exc:
        raise BadFormError(str(exc)) from exc


# The intake's reasons, in words for the customer (the intake speaks English to programs).
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"must not be empty"), N_("Please fill this in.")),
    (re.compile(r"at least (\d+) characters"), N_("Please write at least %(n)s characters.")),
    (re.compile(r"at most (\d+) characters"), N_("Please keep it under %(n)s characters.")),
    (re.compile(r"must be one of"), N_("Please choose a category.")),
    (re.compile(r"attach your ID"), N_("Please attach your ID confirmation photos.")),
)


# The fields the pages show an error next to; a refusal of any other goes above the form.
_SHOWN_FIELDS = frozenset({"category", "subject", "description", "body", "email"})


def _field(name: str) -> str:
    if name.startswith("attachments"):
        return "attachments"
    field_name = name.removeprefix("body.")
    return field_name if name.startswith("body.") and field_name in _SHOWN_FIELDS else "form"


def page_status(answer: IntakeAnswer) -> int:
    """The status of the page that shows the intake's refusal: its own, or 503 for the
    intake's failure (the page itself works)."""
    return answer.status if answer.status < 500 else 503


def errors_from(answer: IntakeAnswer, _: Callable[..., str]) -> dict[str, str]:
    """The intake's problem as {field: message}; "form" for what belongs to no field."""
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status == 429:
        wait = answer.headers.get("retry-after", "60")
        return {"form": _("Too many requests. Please try again in %(n)s seconds.", n=wait)}
    if answer.status in (413, 415):
        return {
            "attachments": _("This file cannot be accepted: %(why)s", why=body.get("detail", ""))
        }
    if answer.status == 503:
        return {
            "form": _(
                "We could not confirm this just now. Please send it again: it is not sent twice."
            )
        }
    errors: dict[str, str] = {}
    for param in body.get("invalid-params") or []:
        name, reason = _field(str(param.get("name", ""))), str(param.get("reason", ""))
        for pattern, message in _REASONS:
            if match := pattern.search(reason):
                errors.setdefault(
                    name, _(message, n=match.group(1)) if match.groups() else _(message)
                )
                break
        else:
            errors.setdefault(name, reason)
    if not errors:
        errors["form"] = str(body.get("detail") or _("This could not be sent."))
    return errors
