"""Small, structurally valid files of every allowed type (and some that are not), built here
so the tests need no binary fixtures."""

from __future__ import annotations

import struct
import zlib
from uuid import uuid4


def account(prefix: str = "acc-t") -> str:
    """A fresh account per test: rate limits and duplicate detection are per account."""
    return f"{prefix}-{uuid4().hex[:12]}"


def jpeg(payload: bytes = b"pixels") -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + payload
        + b"\xff\xd9"
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 1, height: int = 1) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def webp(payload: bytes = b"\x00" * 16) -> bytes:
    chunk = b"VP8 " + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def heic(major: bytes = b"heic", compatible: tuple[bytes, ...] = (b"mif1", b"heic")) -> bytes:
    body = major + struct.pack(">I", 0) + b"".join(compatible)
    ftyp = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    return ftyp + struct.pack(">I", 16) + b"mdat" + b"\x00" * 8


def pdf(body: bytes = b"1 0 obj << /Type /Catalog >> endobj\n") -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def text(content: str = "Transaction id: 4f3c2a\nAmount: 0.5 BTC\n") -> bytes:
    return content.encode()


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 40

ALL_VALID = {
    "image/jpeg": jpeg(),
    "image/png": png(),
    "image/webp": webp(),
    "image/heic": heic(),
    "application/pdf": pdf(),
    "text/plain": text(),
}
