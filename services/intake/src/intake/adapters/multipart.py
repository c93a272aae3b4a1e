"""Inbound HTTP adapter: a multipart/form-data body (what a browser form posts), read as it
streams in, with every limit applied while reading.

Each file is hashed, sniffed and size-checked chunk by chunk and staged in a spooled temporary
file (memory up to 1 MiB, then disk), so an upload over the limits is refused as soon as it
crosses one, never after it was read in full, and never held in memory whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, Collection
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING, BinaryIO, cast
from urllib.parse import unquote

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from intake.domain.attachments import (
    AttachmentLimits,
    CheckedFile,
    Sniffer,
    safe_filename,
)

if TYPE_CHECKING:  # a TypedDict the library defines for type checkers only
    from python_multipart.multipart import MultipartCallbacks

SPOOL_IN_MEMORY_BYTES = 1024 * 1024
_FILENAME_STAR = re.compile(rb"filename\*\s*=\s*([^;]+)", re.IGNORECASE)


class MalformedBodyError(ValueError):
    """The body is not a well-formed multipart/form-data message (400)."""


class FieldTooLargeError(ValueError):
    """A text field or the number of parts is over its limit (413)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class UnexpectedFieldError(ValueError):
    """A part the endpoint does not take in that form (422)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass
class UploadedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[CheckedFile] = field(default_factory=list)

    def close(self) -> None:
        for file in self.files:
            file.content.close()


@dataclass(frozen=True, slots=True)
class FormSpec:
    """What an endpoint takes: its text fields, its one (repeatable) file field, the limits."""

    text_fields: Collection[str]
    file_field: str
    limits: AttachmentLimits
    max_field_bytes: int = 128 * 1024
    max_parts: int = 64


class _StagedFile:
    def __init__(self, index: int, raw_name: str | None, limits: AttachmentLimits) -> None:
        self.index = index
        self.raw_name = raw_name
        self.limits = limits
        # Closed by UploadedForm.close() once the request is done with it.
        spool = SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        self.content: BinaryIO = cast(BinaryIO, spool)
        self.sha256 = hashlib.sha256()
        self.sniffer = Sniffer()

    def write(self, data: bytes) -> None:
        self.limits.check_size(self.index, self.sniffer.size + len(data))
        self.content.write(data)
        self.sha256.update(data)
        self.sniffer.feed(data)

    def finish(self) -> CheckedFile:
        content_type = self.limits.check_type(self.index, self.sniffer.result())
        self.content.seek(0)
        return CheckedFile(
            index=self.index,
            filename=safe_filename(self.raw_name, self.index, content_type),
            content_type=content_type,
            size=self.sniffer.size,
            sha256=self.sha256.hexdigest(),
            content=self.content,
        )


class _FormReader:
    """The parser's callbacks: all the work is synchronous, so it runs inside them."""

    def __init__(self, spec: FormSpec) -> None:
        self.spec = spec
        self.form = UploadedForm()
        self.ended = False
        self._parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition: bytes | None = None
        self._name = ""
        self._text: bytearray | None = None
        self._skipped = 0  # bytes of a field we do not take: bounded all the same
        self._file: _StagedFile | None = None
        self._file_name: str | None = None
        self._file_pending = False  # a file part whose first byte has not arrived yet

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self.spec.max_parts:
            raise FieldTooLargeError("body", f"at most {self.spec.max_parts} parts")
        self._disposition = None
        self._text = None
        self._skipped = 0
        self._file = None
        self._file_pending = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if bytes(self._header_field).strip().lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        if self._disposition is None:
            raise MalformedBodyError("a part has no Content-Disposition header")
        kind, params = parse_options_header(self._disposition)
        name = params.get(b"name")
        if kind.lower() != b"form-data" or not name:
            raise MalformedBodyError("a part is not a named form-data field")
        self._name = name.decode(errors="replace")
        filename = _filename(self._disposition, params)
        if filename is None:
            if self._name not in self.spec.text_fields:
                self._text = None  # a field we do not take (a CSRF token, say): skipped
                return
            if self._name in self.form.fields:
                raise UnexpectedFieldError(f"body.{self._name}", "given more than once")
            self._text = bytearray()
            return
        if self._name != self.spec.file_field:
            raise UnexpectedFieldError(
                self._name, f"files are taken in the field {self.spec.file_field!r} only"
            )
        self._file_name = filename
        self._file_pending = True
        if filename:  # a named file counts even if empty; an unnamed empty one is no file
            self._start_file()

    def _start_file(self) -> _StagedFile:
        index = len(self.form.files)
        self.spec.limits.check_count(index)  # before reading any of it
        self._file = _StagedFile(index, self._file_name, self.spec.limits)
        self._file_pending = False
        return self._file

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not chunk:
            return
        if self._file is not None or self._file_pending:
            (self._file or self._start_file()).write(chunk)
        elif self._text is not None:
            if len(self._text) + len(chunk) > self.spec.max_field_bytes:
                raise FieldTooLargeError(
                    f"body.{self._name}", f"larger than {self.spec.max_field_bytes} bytes"
                )
            self._text += chunk
        else:
            self._skipped += len(chunk)
            if self._skipped > self.spec.max_field_bytes:
                raise FieldTooLargeError(
                    f"body.{self._name}", f"larger than {self.spec.max_field_bytes} bytes"
                )

    def on_part_end(self) -> None:
        if self._file is not None:
            staged, self._file = self._file, None
            try:
                self.form.files.append(staged.finish())
            except BaseException:
                staged.content.close()
                raise
        elif self._text is not None:
            try:
                self.form.fields[self._name] = self._text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UnexpectedFieldError(f"body.{self._name}", "not valid UTF-8") from exc
            self._text = None
        # A browser's empty file input (no name, no bytes) ends here having made no file.
        self._file_pending = False

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self._file is not None:
            self._file.content.close()
        self.form.close()


def _filename(disposition: bytes, params: dict[bytes, bytes]) -> str | None:
    """RFC 5987 `filename*` when given (parse_options_header drops it), else `filename`
    (browsers send it as raw UTF-8); None when the part is not a file."""
    star = _FILENAME_STAR.search(disposition)
    if star:
        value = star.group(1).strip().strip(b'"').decode("latin-1")
        charset, _, rest = value.partition("'")
        _, _, encoded = rest.partition("'")
        try:
            return unquote(encoded, encoding=charset or "utf-8", errors="replace")
        except LookupError:
            return unquote(encoded, errors="replace")
    raw = params.get(b"filename")
    return None if raw is None else raw.decode("utf-8", errors="replace")


def boundary_of(content_type: str) -> bytes:
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind.lower() != b"multipart/form-data" or not boundary:
        raise MalformedBodyError("multipart/form-data needs a boundary parameter")
    return boundary


async def read_form(
    chunks: AsyncIterable[bytes], content_type: str, spec: FormSpec
) -> UploadedForm:
    """Read the whole form, or raise at the first broken rule, having read no further."""
    reader = _FormReader(spec)
    try:
        try:
            parser = MultipartParser(boundary_of(content_type), reader.callbacks())
        except FormParserError as exc:  # e.g. an absurdly long boundary
            raise MalformedBodyError(str(exc)) from exc
        async for chunk in chunks:
            if chunk:
                try:
                    parser.write(chunk)
                except FormParserError as exc:
                    raise MalformedBodyError(f"malformed multipart body: {exc}") from exc
            if reader.ended:
                break  # anything after the closing boundary is epilogue; we ignore it
        if not reader.ended:
            raise MalformedBodyError("the body ended before the closing boundary")
    except BaseException:
        reader.close()
        raise
    return reader.form
