"""What an uploaded file is, judged from its bytes alone, and the limits uploads must keep.

Pure: no I/O. The declared Content-Type and the file name are never trusted, because both are
chosen by the sender; a file is what its leading bytes (and, where a format makes it cheap,
its structure) say it is.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import struct
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import BinaryIO, Literal
from urllib.parse import quote

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
PDF = "application/pdf"
TEXT = "text/plain"

ALLOWED_TYPES: tuple[str, ...] = (JPEG, PNG, WEBP, HEIC, PDF, TEXT)
# What can serve as an ID confirmation photo (a text file cannot).
DOCUMENT_TYPES = frozenset({JPEG, PNG, WEBP, HEIC, PDF})

EXTENSIONS = {JPEG: ".jpg", PNG: ".png", WEBP: ".webp", HEIC: ".heic", PDF: ".pdf", TEXT: ".txt"}
# Every extension that names the type truthfully; the first is the one added when none does.
_TRUE_EXTENSIONS = {
    JPEG: (".jpg", ".jpeg"),
    PNG: (".png",),
    WEBP: (".webp",),
    HEIC: (".heic", ".heif"),
    PDF: (".pdf",),
    TEXT: (".txt", ".text", ".log"),
}

MIB = 1024 * 1024
HEAD_BYTES = 512
TAIL_BYTES = 1024  # PDF readers look for %%EOF in the last 1024 bytes; we do the same

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND\xaeB`\x82"
_PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
_WEBP_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X")
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})


@dataclass(frozen=True, slots=True)
class Sniffed:
    """`content_type` is None when the bytes are none of the types we know; `detail` says why."""

    content_type: str | None
    detail: str


@dataclass
class Sniffer:
    """Fed a file chunk by chunk (so a large upload need not sit in memory), it keeps only the
    head, the tail and the state of an incremental UTF-8 check."""

    size: int = field(default=0, init=False)
    _head: bytearray = field(default_factory=bytearray, init=False)
    _tail: bytes = field(default=b"", init=False)
    _utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("strict"), init=False
    )
    _text: bool = field(default=True, init=False)

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._tail = (self._tail + chunk[-TAIL_BYTES:])[-TAIL_BYTES:]
        self.size += len(chunk)
        if self._text:
            if b"\x00" in chunk:
                self._text = False
            else:
                try:
                    self._utf8.decode(chunk)
                except UnicodeDecodeError:
                    self._text = False

    def result(self) -> Sniffed:
        head, tail = bytes(self._head), self._tail
        if self.size == 0:
            return Sniffed(None, "the file is empty")
        if head.startswith(b"\xff\xd8\xff"):
            # Only the header: phones append data after the end-of-image marker, so the tail
            # proves nothing for JPEG.
            if len(head) >= 4 and 0xC0 <= head[3] <= 0xFE:
                return Sniffed(JPEG, "JPEG")
            return Sniffed(None, "a truncated or malformed JPEG")
        if head.startswith(_PNG_SIGNATURE[:4]):
            if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR" and _PNG_IEND in tail:
                return Sniffed(PNG, "PNG")
            return Sniffed(None, "a truncated or malformed PNG")
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            (riff_size,) = struct.unpack("<I", head[4:8])
            if head[12:16] in _WEBP_CHUNKS and riff_size + 8 <= self.size:
                return Sniffed(WEBP, "WebP")
            return Sniffed(None, "a truncated or malformed WebP")
        if head[4:8] == b"ftyp":
            return self._iso_media(head)
        if head.startswith(b"%PDF"):
            if _PDF_HEADER.match(head) and b"%%EOF" in tail:
                return Sniffed(PDF, "PDF")
            return Sniffed(None, "a truncated or malformed PDF (no %%EOF at its end)")
        if self._is_text():
            return Sniffed(TEXT, "UTF-8 text")
        return Sniffed(None, "not an image, PDF or UTF-8 text")

    def _iso_media(self, head: bytes) -> Sniffed:
        (box_size,) = struct.unpack(">I", head[0:4])
        if box_size < 16 or box_size > min(len(head), self.size) or box_size % 4:
            return Sniffed(None, "a truncated or malformed ISO media file")
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_size, 4)}
        if brands & _HEIC_BRANDS:
            return Sniffed(HEIC, "HEIC")
        return Sniffed(None, "an ISO media file that is not HEIC (a video or AVIF?)")

    def _is_text(self) -> bool:
        if not self._text:
            return False
        try:
            self._utf8.decode(b"", final=True)  # a multi-byte sequence cut off at the end
        except UnicodeDecodeError:
            return False
        return True


# --- limits ---------------------------------------------------------------------------------

RejectionKind = Literal["count", "size", "type"]


class AttachmentRejectedError(ValueError):
    """An upload that breaks a limit. `kind` picks the HTTP status: count and size are 413,
    type is 415; `index` is the 0-based position among the files sent."""

    def __init__(self, kind: RejectionKind, index: int, reason: str) -> None:
        super().__init__(f"attachments[{index}]: {reason}")
        self.kind = kind
        self.index = index
        self.reason = reason


def _size_label(size: int) -> str:
    return f"{size // MIB} MiB" if size % MIB == 0 else f"{size} bytes"


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    max_count: int = 10
    max_bytes: int = 10 * MIB
    allowed_types: frozenset[str] = frozenset(ALLOWED_TYPES)

    def check_count(self, index: int) -> None:
        """Called when file number `index` (0-based) starts, before any of it is read."""
        if index >= self.max_count:
            raise AttachmentRejectedError(
                "count", index, f"at most {self.max_count} files per request"
            )

    def check_size(self, index: int, size_so_far: int) -> None:
        """Called as bytes arrive, so an oversized file is refused once it passes the limit."""
        if size_so_far > self.max_bytes:
            raise AttachmentRejectedError(
                "size", index, f"larger than {_size_label(self.max_bytes)}"
            )

    def check_type(self, index: int, sniffed: Sniffed) -> str:
        if sniffed.content_type is None or sniffed.content_type not in self.allowed_types:
            allowed = ", ".join(sorted(self.allowed_types))
            raise AttachmentRejectedError(
                "type", index, f"{sniffed.detail}; allowed types: {allowed}"
            )
        return sniffed.content_type


# --- names ----------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/]")


def safe_filename(raw: str | None, index: int, content_type: str) -> str:
    """A name fit to store and show back: no directory part (old browsers send the full path),
    no control characters, at most 255 characters, a default when none was given, and an
    extension that matches the type judged from the bytes, so a saved `page.html` that is
    really text cannot open as HTML from the customer's or agent's disk."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("_", name)).strip(" .")
    if not name:
        name = f"attachment-{index + 1}"
    true_extensions = _TRUE_EXTENSIONS.get(content_type, ())
    suffix = "" if name.lower().endswith(true_extensions) else EXTENSIONS.get(content_type, "")
    return name[-(255 - len(suffix)) :] + suffix


def content_disposition(filename: str) -> str:
    """`attachment` (never inline: the browser saves, it does not render) with an ASCII fallback
    and the exact UTF-8 name per RFC 6266 / RFC 5987."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    fallback = _UNSAFE_NAME.sub("_", fallback)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# --- staged files ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """An upload that passed every check, staged (in memory or a temporary file) until stored."""

    index: int
    filename: str
    content_type: str
    size: int
    sha256: str
    content: BinaryIO


def check_file(
    index: int, raw_name: str | None, data: bytes, limits: AttachmentLimits
) -> CheckedFile:
    """A file that arrived whole (an e-mail's attachment), through the same checks as an
    upload: count, size, the type judged from its bytes, a safe name."""
    limits.check_count(index)
    limits.check_size(index, len(data))
    sniffer = Sniffer()
    sniffer.feed(data)
    content_type = limits.check_type(index, sniffer.result())
    return CheckedFile(
        index=index,
        filename=safe_filename(raw_name, index, content_type),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=io.BytesIO(data),
    )


def counts_as_id_document(content_types: Collection[str]) -> bool:
    return any(t in DOCUMENT_TYPES for t in content_types)
