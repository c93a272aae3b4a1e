"""Reading a submission however a client sends it: JSON, a browser's urlencoded form, or
multipart/form-data with files (streamed, each file checked as it arrives)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import ValidationError

from intake.adapters.multipart import FormSpec, UnexpectedFieldError, UploadedForm, read_form
from intake.api.dependencies import UploadRules
from intake.api.schemas import TicketRequest
from intake.domain.submission import SubmissionForm
from shared.http.problems import InvalidParam, ProblemError


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_multipart(request: Request, spec: FormSpec) -> UploadedForm:
    return await read_form(request.stream(), request.headers["content-type"], spec)


def body_problem(exc: ValidationError) -> ProblemError:
    params = [
        InvalidParam(name=".".join(["body", *(str(p) for p in err["loc"])]), reason=str(err["msg"]))
        for err in exc.errors()
    ]
    return ProblemError(
        422,
        "Validation failed",
        "; ".join(f"{p.name}: {p.reason}" for p in params),
        invalid_params=params,
    )


async def read_browser_form(
    request: Request, rules: UploadRules, *text_fields: str
) -> UploadedForm | None:
    """A form as a browser posts it: multipart (with files) or urlencoded (a form without
    file inputs); None for any other body."""
    media = media_type(request)
    if media == "multipart/form-data":
        return await read_multipart(request, rules.spec(*text_fields))
    if media == "application/x-www-form-urlencoded":
        fields = _urlencoded(await request.body())
        if unexpected := sorted(set(fields) - set(text_fields)):
            raise UnexpectedFieldError(f"body.{unexpected[0]}", "not a field of this form")
        return UploadedForm(fields=fields)
    return None


async def read_submission(
    request: Request, rules: UploadRules
) -> tuple[SubmissionForm, UploadedForm]:
    upload = await read_browser_form(request, rules, "category", "subject", "description", "locale")
    if upload is not None:
        return _form_of(upload.fields), upload
    media = media_type(request)
    if media in ("", "application/json") or media.endswith("+json"):
        try:
            body = TicketRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise body_problem(exc) from exc
        form = SubmissionForm(
            category=body.category,
            subject=body.subject,
            description=body.description,
            locale=body.locale,
        )
        return form, UploadedForm()
    raise ProblemError(
        415,
        "Unsupported media type",
        "send application/json or a form (multipart/form-data to attach files)",
        invalid_params=[InvalidParam(name="header.Content-Type", reason=f"{media} not accepted")],
    )


def _form_of(fields: dict[str, str]) -> SubmissionForm:
    # A missing field is an empty one: the domain's check names it like any other mistake.
    return SubmissionForm(
        category=fields.get("category", ""),
        subject=fields.get("subject", ""),
        description=fields.get("description", ""),
        locale=fields.get("locale", "en"),
    )


def _urlencoded(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise ProblemError(400, "Bad request", "the form is not valid UTF-8") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise UnexpectedFieldError(f"body.{name}", "given more than once")
        fields[name] = value
    return fields
