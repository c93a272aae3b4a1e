"""Every customer-facing text is translated, in every supported language, in every package that
speaks to customers: what its code and templates use (extracted here with Babel, as `make
messages` extracts it) and every text of the catalog and the public status names (the shared
catalogue). A translation is there, not fuzzy, not empty, and has the msgid's placeholders.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from shared.contracts.catalog import DEFAULT_CATALOG_PATH
from shared.contracts.statuses import PUBLIC_NAMES
from shared.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, translations
from shared.locales.extract import catalog_texts, extract_package

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "shared": ROOT / "shared" / "src" / "shared",
    "notifier": ROOT / "services" / "notifier" / "src" / "notifier",
    "history": ROOT / "services" / "history" / "src" / "history",
}
WITH_LOCALES = sorted(name for name, path in PACKAGES.items() if (path / "locales").is_dir())
LANGUAGES = [locale for locale in SUPPORTED_LOCALES if locale != DEFAULT_LOCALE]
# printf-style named (%(name)s, %(count)d) and str.format-style ({name}); "%%" is a literal.
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|\{(\w*)\}")


def placeholders(text: str) -> set[str]:
    return {f"%({a})" if a else f"{{{b}}}" for a, b in PLACEHOLDER.findall(text)}


def po_path(package: str, locale: str) -> Path:
    return PACKAGES[package] / "locales" / locale / "LC_MESSAGES" / "messages.po"


@cache
def catalogue(package: str, locale: str) -> Catalog:
    with po_path(package, locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def entries(package: str, locale: str) -> dict[str, Message]:
    """What the package translates at run time: the shared catalogue, its own over it."""
    found = {m.id: m for m in catalogue("shared", locale) if m.id and isinstance(m.id, str)}
    if package != "shared":
        found |= {m.id: m for m in catalogue(package, locale) if m.id and isinstance(m.id, str)}
    return found


@cache
def extracted(package: str) -> Catalog:
    return extract_package(PACKAGES[package])


def problems_of(msgid: str, entry: Message | None) -> list[str]:
    if entry is None:
        return ["no translation"]
    found = []
    if entry.fuzzy:
        found.append("fuzzy")
    strings = entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
    if not all(s and s.strip() for s in strings):
        found.append("empty")
    found += [
        f"placeholders {sorted(placeholders(s))} for {sorted(placeholders(msgid))}"
        for s in strings
        if s and placeholders(s) != placeholders(msgid)
    ]
    return found


def test_the_customer_facing_packages_have_catalogues() -> None:
    assert {"shared", "notifier"} <= set(WITH_LOCALES)
    assert LANGUAGES  # there is something to translate into


@pytest.mark.parametrize("locale", LANGUAGES)
@pytest.mark.parametrize("package", WITH_LOCALES)
def test_every_text_the_package_uses_is_translated(package: str, locale: str) -> None:
    assert po_path(package, locale).is_file(), f"make messages creates {po_path(package, locale)}"
    known = entries(package, locale)
    used = [m for m in extracted(package) if m.id]
    assert used, f"nothing extracted from {PACKAGES[package]}: is babel.cfg's mapping right?"
    problems = []
    for message in used:
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        where = ", ".join(sorted({path for path, _ in message.locations}))
        problems += [f"{msgid!r} ({where}): {p}" for p in problems_of(msgid, known.get(msgid))]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_catalog_text_and_public_status_is_translated(locale: str) -> None:
    with DEFAULT_CATALOG_PATH.open("rb") as handle:
        texts = [text for _, text in catalog_texts(tomllib.load(handle))]
    texts += sorted(set(PUBLIC_NAMES.values()))
    known = entries("shared", locale)
    problems = [f"{text!r}: {p}" for text in texts for p in problems_of(text, known.get(text))]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("locale", LANGUAGES)
@pytest.mark.parametrize("package", WITH_LOCALES)
def test_the_services_read_these_translations(package: str, locale: str) -> None:
    """shared.i18n compiles the same .po in memory, the package's over the shared one."""
    runtime = translations(package, locale)
    for msgid, entry in entries(package, locale).items():
        if isinstance(entry.string, str) and entry.string and not entry.fuzzy:
            assert runtime.gettext(msgid) == entry.string


def test_placeholders_are_told_apart() -> None:
    assert placeholders("Hello %(name)s, 100%% {count} {}") == {"%(name)", "{count}", "{}"}
    assert problems_of("Hi %(name)s", Message("Hi %(name)s", "Hallo %(nom)s")) == [
        "placeholders ['%(nom)'] for ['%(name)']"
    ]
    assert problems_of("Hi", Message("Hi", "", flags=["fuzzy"])) == ["fuzzy", "empty"]
