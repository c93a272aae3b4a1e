"""Customer-facing text in the customer's language: gettext message catalogues read with Babel.

Each package that speaks to customers keeps its catalogues as `<package>/locales/<lang>/
LC_MESSAGES/messages.po` (English msgids; English needs no catalogue). They are compiled in
memory when first used, so the repository holds no binary .mo files and a translator edits
the .po alone. `translations("notifier", "de")` also carries the shared catalogue (category
labels, document names, guidance, public statuses), so a template translates both with one
`gettext`. `make messages` extracts the msgids; tests/test_message_catalogues.py fails on a
text that a catalogue lacks.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from io import BytesIO

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = ("en", "de", "es")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "es": "Español"}
_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def normalise_locale(value: str | None) -> str:
    """The supported locale a request's `locale` ("de", "de-AT", "es_ES") asks for, else
    English: a customer is always answered, in their language when we have it."""
    if not value or not _TAG.fullmatch(value.strip()):
        return DEFAULT_LOCALE
    tag = value.strip().replace("-", "_")
    return negotiate_locale([tag], list(SUPPORTED_LOCALES), sep="_") or DEFAULT_LOCALE


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for a browser's Accept-Language header (q-values honoured)."""
    wanted: list[tuple[float, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and _TAG.fullmatch(tag) and quality > 0:
            wanted.append((-quality + position * 1e-6, tag.replace("-", "_")))
    preferred = [tag for _, tag in sorted(wanted)]
    return negotiate_locale(preferred, list(SUPPORTED_LOCALES), sep="_") or DEFAULT_LOCALE


def _catalogue(package: str, locale: str) -> Translations | None:
    source = files(package).joinpath("locales", locale, "LC_MESSAGES", "messages.po")
    if not source.is_file():
        return None
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def translations(package: str, locale: str) -> NullTranslations:
    """`package`'s messages in `locale`, with the shared catalogue merged in; English (or a
    locale without a catalogue) translates every text to itself."""
    locale = normalise_locale(locale)
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    merged = _catalogue("shared", locale) or Translations()
    if package != "shared" and (own := _catalogue(package, locale)) is not None:
        merged.merge(own)
    return merged


def gettext(locale: str, message: str, package: str = "shared") -> str:
    return translations(package, locale).gettext(message)
