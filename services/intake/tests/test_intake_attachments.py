"""Magic-byte sniffing and upload limits (pure)."""

from __future__ import annotations

import pytest

from intake.domain.attachments import (
    AttachmentLimits,
    AttachmentRejectedError,
    Sniffed,
    Sniffer,
    content_disposition,
    counts_as_id_document,
    safe_filename,
)

from .intake_samples import ALL_VALID, ELF, GIF, ZIP, heic, jpeg, pdf, png, text, webp

pytestmark = pytest.mark.unit


def sniff(data: bytes) -> Sniffed:
    """The whole file at once, as the streaming sniffer would judge it."""
    sniffer = Sniffer()
    sniffer.feed(data)
    return sniffer.result()


@pytest.mark.parametrize(("expected", "data"), list(ALL_VALID.items()), ids=list(ALL_VALID))
def test_each_allowed_type_is_recognised(expected: str, data: bytes) -> None:
    assert sniff(data).content_type == expected


@pytest.mark.parametrize(("expected", "data"), list(ALL_VALID.items()), ids=list(ALL_VALID))
def test_fed_byte_by_byte_gives_the_same_answer(expected: str, data: bytes) -> None:
    sniffer = Sniffer()
    for i in range(len(data)):
        sniffer.feed(data[i : i + 1])
    assert sniffer.result().content_type == expected
    assert sniffer.size == len(data)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (GIF, "GIF is not allowed"),
        (ZIP, "an archive"),
        (ELF, "an executable"),
        (b"", "empty"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff", "a Windows executable"),
        (b"hello\x00world", "text with a NUL"),
        (b"caf\xe9 latin-1", "not UTF-8"),
        ("ok \u00e9".encode()[:-1], "UTF-8 cut in the middle of a character"),
        (heic(major=b"avif", compatible=(b"mif1", b"avif")), "AVIF, not HEIC"),
        (heic(major=b"mp42", compatible=(b"isom",)), "an MP4 video"),
    ],
)
def test_other_content_is_refused(data: bytes, why: str) -> None:
    assert sniff(data).content_type is None, why


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xff\xd8", "JPEG signature cut short"),
        (b"\xff\xd8\xff", "JPEG without its first marker"),
        (png()[:6], "PNG signature cut short"),
        (png()[:20], "PNG cut inside IHDR"),
        (png()[:-12], "PNG without IEND"),
        (webp()[:-4], "WebP shorter than its RIFF header says"),
        (webp()[:14], "WebP cut before its chunk type"),
        (heic()[:10], "HEIC cut inside its ftyp box"),
        (pdf()[:-7], "PDF without %%EOF"),
        (b"%PDF", "PDF header cut short"),
    ],
)
def test_truncated_files_are_refused(data: bytes, why: str) -> None:
    result = sniff(data)
    assert result.content_type is None, why
    assert result.detail


def test_a_truncated_pdf_never_passes_as_text() -> None:
    # All-ASCII, so it would be valid UTF-8: a broken PDF must still not slip in as text.
    assert sniff(b"%PDF-1.4\n1 0 obj\n").content_type is None


def test_the_declared_name_and_type_are_ignored() -> None:
    # What the sender called it plays no part: the same bytes, the same verdict.
    assert sniff(pdf()).content_type == "application/pdf"  # even if sent as "photo.jpg"
    assert sniff(png()).content_type == "image/png"  # even if declared image/jpeg


def test_polyglot_is_judged_by_its_leading_bytes() -> None:
    # A JPEG with a PDF inside stays a JPEG; a PDF header preceded by junk is no PDF.
    assert sniff(jpeg(payload=pdf())).content_type == "image/jpeg"
    assert sniff(b"\x00\x01junk" + pdf()).content_type is None
    # HTML is text: served as text/plain with nosniff, a browser never renders it.
    assert sniff(b"<html><script>alert(1)</script></html>").content_type == "text/plain"


def test_text_may_carry_a_bom_and_any_script() -> None:
    assert sniff(b"\xef\xbb\xbf" + "Привет, 你好".encode()).content_type == "text/plain"
    assert sniff(text()).content_type == "text/plain"


def test_webp_and_heic_variants() -> None:
    assert sniff(webp()).content_type == "image/webp"
    lossless = (
        b"RIFF"
        + (4 + 8 + 4).to_bytes(4, "little")
        + b"WEBPVP8L"
        + b"\x04\x00\x00\x00"
        + b"\x2f" * 4
    )
    assert sniff(lossless).content_type == "image/webp"
    assert sniff(heic(major=b"mif1", compatible=(b"mif1", b"heix"))).content_type == "image/heic"


# --- limits ---------------------------------------------------------------------------------

LIMITS = AttachmentLimits(max_count=2, max_bytes=100, allowed_types=frozenset({"image/png"}))


def test_count_limit_names_the_first_file_too_many() -> None:
    LIMITS.check_count(1)
    with pytest.raises(AttachmentRejectedError) as caught:
        LIMITS.check_count(2)
    assert (caught.value.kind, caught.value.index) == ("count", 2)


def test_size_limit_is_inclusive() -> None:
    LIMITS.check_size(0, 100)
    with pytest.raises(AttachmentRejectedError) as caught:
        LIMITS.check_size(3, 101)
    assert (caught.value.kind, caught.value.index) == ("size", 3)
    assert "100 bytes" in caught.value.reason


def test_type_limit_uses_the_configured_list() -> None:
    assert LIMITS.check_type(0, sniff(png())) == "image/png"
    with pytest.raises(AttachmentRejectedError) as caught:
        LIMITS.check_type(1, sniff(jpeg()))
    assert (caught.value.kind, caught.value.index) == ("type", 1)
    with pytest.raises(AttachmentRejectedError):
        LIMITS.check_type(0, sniff(ELF))


def test_default_limits() -> None:
    limits = AttachmentLimits()
    assert (limits.max_count, limits.max_bytes) == (10, 10 * 1024 * 1024)
    assert limits.allowed_types == frozenset(ALL_VALID)


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        ("passport.jpg", "image/jpeg", "passport.jpg"),
        ("Passport.JPEG", "image/jpeg", "Passport.JPEG"),
        ("C:\\fakepath\\scan.pdf", "application/pdf", "scan.pdf"),
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ('a"b\r\n.txt', "text/plain", "a_b__.txt"),
        ("", "image/png", "attachment-3.png"),
        (None, "image/png", "attachment-3.png"),
        ("..", "image/png", "attachment-3.png"),
        # the extension follows the bytes, not the sender's claim
        ("page.html", "text/plain", "page.html.txt"),
        ("invoice.pdf", "image/png", "invoice.pdf.png"),
        ("photo", "image/webp", "photo.webp"),
    ],
)
def test_safe_filename(raw: str | None, content_type: str, expected: str) -> None:
    assert safe_filename(raw, 2, content_type) == expected


def test_long_names_keep_their_end() -> None:
    name = safe_filename("x" * 300 + ".pdf", 0, "application/pdf")
    assert len(name) == 255
    assert name.endswith(".pdf")
    renamed = safe_filename("x" * 300 + ".html", 0, "text/plain")
    assert len(renamed) == 255
    assert renamed.endswith(".html.txt")


def test_content_disposition_is_always_a_download() -> None:
    header = content_disposition("Паспорт.jpg")
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%D0%9F" in header
    assert "\r" not in content_disposition("a\r\nb.txt")


def test_only_images_and_pdfs_are_id_documents() -> None:
    assert counts_as_id_document(["image/jpeg"])
    assert counts_as_id_document(["text/plain", "application/pdf"])
    assert not counts_as_id_document(["text/plain"])
    assert not counts_as_id_document([])
