"""The streaming multipart reader, fed from memory: limits hold while reading, and reading
stops at the first broken rule."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable

import pytest

from intake.adapters.multipart import (
    FieldTooLargeError,
    FormSpec,
    MalformedBodyError,
    UnexpectedFieldError,
    read_form,
)
from intake.domain.attachments import AttachmentLimits, AttachmentRejectedError

from .intake_samples import GIF, jpeg, pdf, png, text

pytestmark = pytest.mark.unit

BOUNDARY = "----test-boundary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
SPEC = FormSpec(
    text_fields=frozenset({"category", "subject", "description"}),
    file_field="attachments",
    limits=AttachmentLimits(max_count=3, max_bytes=1000),
    max_field_bytes=200,
)

Part = tuple[str, bytes, str | None]  # (name, content, filename or None for a text field)


def part(name: str, content: bytes, filename: str | None = None, disposition: str = "") -> bytes:
    header = disposition or f'form-data; name="{name}"' + (
        f'; filename="{filename}"' if filename is not None else ""
    )
    return (
        (
            f"--{BOUNDARY}\r\nContent-Disposition: {header}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
    )


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Source:
    """Chunks of a body, counting how much of it the reader pulled."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            self.consumed += len(chunk)
            yield chunk


def chunked(data: bytes, size: int = 7) -> Source:
    return Source(data[i : i + size] for i in range(0, len(data), size))


async def test_fields_and_files_are_read_hashed_and_sniffed() -> None:
    photo, scan = png(), pdf()
    data = body(
        part("category", b"cards"),
        part("subject", "Карта".encode()),
        part("attachments", photo, "photo.jpg"),  # a PNG whatever its name says
        part("attachments", scan, "scan.pdf"),
    )
    form = await read_form(chunked(data), CONTENT_TYPE, SPEC)
    try:
        assert form.fields == {"category": "cards", "subject": "Карта"}
        assert [(f.index, f.filename, f.content_type) for f in form.files] == [
            (0, "photo.jpg.png", "image/png"),  # named after its bytes
            (1, "scan.pdf", "application/pdf"),
        ]
        assert form.files[0].sha256 == hashlib.sha256(photo).hexdigest()
        assert form.files[1].size == len(scan)
        assert form.files[1].content.read() == scan
    finally:
        form.close()


async def test_an_empty_file_input_is_no_file() -> None:
    # What a browser posts for a file input left empty: no name, no bytes.
    data = body(part("attachments", b"", ""), part("description", b"long enough text"))
    form = await read_form(chunked(data), CONTENT_TYPE, SPEC)
    assert form.files == []
    assert form.fields == {"description": "long enough text"}


async def test_a_named_empty_file_is_refused_as_empty() -> None:
    with pytest.raises(AttachmentRejectedError) as caught:
        await read_form(chunked(body(part("attachments", b"", "empty.txt"))), CONTENT_TYPE, SPEC)
    assert (caught.value.kind, caught.value.index) == ("type", 0)
    assert "empty" in caught.value.reason


async def test_fields_we_do_not_take_are_skipped() -> None:
    data = body(part("csrf_token", b"abc"), part("category", b"cards"))
    form = await read_form(chunked(data), CONTENT_TYPE, SPEC)
    assert form.fields == {"category": "cards"}


async def test_one_file_too_many_stops_the_reading() -> None:
    files = [part("attachments", text(), f"{n}.txt") for n in range(4)]
    rest = [b"x" * 1000] * 1000  # a megabyte that must never be pulled
    source = Source([b"".join(files), *rest])
    with pytest.raises(AttachmentRejectedError) as caught:
        await read_form(source, CONTENT_TYPE, SPEC)
    assert (caught.value.kind, caught.value.index) == ("count", 3)
    assert source.consumed < 10_000


async def test_an_oversized_file_is_refused_once_it_passes_the_limit() -> None:
    head = part("attachments", b"", "big.txt")[:-2]  # headers of the part, no data yet

    def endless() -> Iterable[bytes]:
        yield head
        while True:
            yield b"a" * 100

    source = Source(endless())
    with pytest.raises(AttachmentRejectedError) as caught:
        await read_form(source, CONTENT_TYPE, SPEC)
    assert (caught.value.kind, caught.value.index) == ("size", 0)
    assert source.consumed < 1000 + len(head) + 200


async def test_a_file_of_a_type_not_allowed_names_its_index() -> None:
    data = body(part("attachments", jpeg(), "a.jpg"), part("attachments", GIF, "b.png"))
    with pytest.raises(AttachmentRejectedError) as caught:
        await read_form(chunked(data), CONTENT_TYPE, SPEC)
    assert (caught.value.kind, caught.value.index) == ("type", 1)


async def test_an_oversized_text_field_is_refused() -> None:
    with pytest.raises(FieldTooLargeError) as caught:
        await read_form(chunked(body(part("description", b"x" * 201))), CONTENT_TYPE, SPEC)
    assert caught.value.name == "body.description"
    with pytest.raises(FieldTooLargeError):
        await read_form(chunked(body(part("ignored", b"x" * 201))), CONTENT_TYPE, SPEC)


async def test_a_repeated_field_is_refused() -> None:
    data = body(part("subject", b"one"), part("subject", b"two"))
    with pytest.raises(UnexpectedFieldError) as caught:
        await read_form(chunked(data), CONTENT_TYPE, SPEC)
    assert caught.value.name == "body.subject"


async def test_files_only_in_the_file_field() -> None:
    with pytest.raises(UnexpectedFieldError) as caught:
        await read_form(chunked(body(part("photo", jpeg(), "a.jpg"))), CONTENT_TYPE, SPEC)
    assert caught.value.name == "photo"


async def test_rfc5987_file_names() -> None:
    disposition = "form-data; name=\"attachments\"; filename*=UTF-8''%D0%BF%D0%B0%D1%81.pdf"
    data = body(part("attachments", pdf(), disposition=disposition))
    form = await read_form(chunked(data), CONTENT_TYPE, SPEC)
    assert form.files[0].filename == "пас.pdf"


async def test_too_many_parts_is_refused() -> None:
    data = body(*[part(f"f{n}", b"x") for n in range(SPEC.max_parts + 1)])
    with pytest.raises(FieldTooLargeError):
        await read_form(chunked(data, 4096), CONTENT_TYPE, SPEC)


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("multipart/form-data", body(part("subject", b"x"))),  # no boundary
        (CONTENT_TYPE, b"this is not multipart at all"),
        (CONTENT_TYPE, body(part("subject", b"x"))[:-10]),  # cut before the closing boundary
        (CONTENT_TYPE, b""),
        (CONTENT_TYPE, f"--{BOUNDARY}\r\nX-Nothing: 1\r\n\r\nabc\r\n--{BOUNDARY}--\r\n".encode()),
        (CONTENT_TYPE, body(part("", b"x", disposition="form-data"))),  # a part with no name
    ],
    ids=["no-boundary", "garbage", "truncated", "empty", "no-disposition", "no-name"],
)
async def test_malformed_bodies(content_type: str, data: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        await read_form(chunked(data), content_type, SPEC)
