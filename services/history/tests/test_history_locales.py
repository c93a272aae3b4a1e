"""The history pages speak every supported language: each text the pages translate — the
`_()` and `N_()` of the code, the `_()` of the templates (extracted here with Babel, as
`pybabel extract` finds them) and the labels of the My-activities orderings — has a
translation in history/locales/<lang>/LC_MESSAGES/messages.po: there, not fuzzy, not empty,
with the msgid's %(name)s placeholders, and formatting as the templates format it (Jinja's
new-style gettext applies `%` to every text). Status names and catalog labels are the shared
catalogue's, tested with it (tests/test_message_catalogues.py).

Re-extract by hand: `pybabel extract -F babel.cfg -k _ -k N_ -o /tmp/history.pot
services/history/src/history`, or `make messages`, which also merges into the .po files.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

import history
from history.locales import ORDERING_LABELS
from history.pages.activities import ORDERINGS
from shared.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, translations

pytestmark = pytest.mark.unit

PACKAGE = Path(history.__file__).resolve().parent
LANGUAGES = [locale for locale in SUPPORTED_LOCALES if locale != DEFAULT_LOCALE]
# As the pages' Jinja environment reads the templates (history.pages.rendering.environment).
TEMPLATES = "**/templates/**.html"
METHODS = [(TEMPLATES, "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {
    TEMPLATES: {
        "extensions": "jinja2.ext.i18n",
        "newstyle_gettext": "true",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
        "silent": "false",  # a template that does not parse fails the test, not drops its texts
    }
}
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None, "N_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def formats(text: str, names: set[str]) -> bool:
    try:
        text % dict.fromkeys(names, "x")
    except (KeyError, ValueError, TypeError):
        return False
    return True


@cache
def extracted() -> dict[str, list[str]]:
    """Every msgid of the history package, with the files it stands in."""
    found: dict[str, list[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        PACKAGE, METHODS, OPTIONS, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, []).append(filename)
    return found


def ordering_labels() -> set[str]:
    return {label for label, _sort, _order in ORDERINGS.values()}


def used() -> dict[str, list[str]]:
    return {label: ["pages/activities.py ORDERINGS"] for label in ordering_labels()} | extracted()


def po_path(locale: str) -> Path:
    return PACKAGE / "locales" / locale / "LC_MESSAGES" / "messages.po"


@cache
def catalogue(locale: str) -> Catalog:
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def entries(locale: str) -> dict[str, Message]:
    return {m.id: m for m in catalogue(locale) if m.id and isinstance(m.id, str)}


def problems_of(msgid: str, entry: Message | None) -> list[str]:
    if entry is None:
        return ["no translation"]
    if not isinstance(entry.string, str):
        return ["a plural entry for a singular msgid"]
    found = ["fuzzy"] if entry.fuzzy else []
    if not entry.string.strip():
        return [*found, "empty"]
    names = placeholders(msgid)
    if placeholders(entry.string) != names:
        found.append(f"placeholders {sorted(placeholders(entry.string))} for {sorted(names)}")
    elif formats(msgid, names) and not formats(entry.string, names):
        found.append("does not format (a stray %?)")
    return found


def test_extraction_reads_the_code_and_the_templates() -> None:
    files = {Path(name).parts[0] for names in extracted().values() for name in names}
    assert {"pages", "templates", "locales"} <= files
    assert {"Submit a request", "Please fill this in.", "Request %(id)s"} <= set(extracted())


def test_the_ordering_labels_are_marked_for_extraction() -> None:
    """history.locales marks the ORDERINGS labels, so that re-extracting keeps them."""
    assert set(ORDERING_LABELS) == ordering_labels()
    assert ordering_labels() <= set(extracted())


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_text_of_the_pages_is_translated(locale: str) -> None:
    assert po_path(locale).is_file()
    known = entries(locale)
    problems = [
        f"{msgid!r} ({', '.join(sorted(set(where)))}): {problem}"
        for msgid, where in sorted(used().items())
        for problem in problems_of(msgid, known.get(msgid))
    ]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("locale", LANGUAGES)
def test_the_catalogue_holds_only_texts_the_pages_use(locale: str) -> None:
    assert sorted(set(entries(locale)) - set(used())) == []


@pytest.mark.parametrize("locale", LANGUAGES)
def test_the_catalogue_header_is_complete(locale: str) -> None:
    header = dict(catalogue(locale).mime_headers)
    assert not catalogue(locale).fuzzy
    assert header["Language"] == locale
    assert header["Content-Type"].lower() == "text/plain; charset=utf-8"
    assert header["Plural-Forms"].startswith("nplurals=")


@pytest.mark.parametrize("locale", LANGUAGES)
def test_the_pages_read_these_translations(locale: str) -> None:
    """shared.i18n compiles the same .po in memory, over the shared catalogue."""
    runtime = translations("history", locale)
    wrong = [
        msgid for msgid, entry in entries(locale).items() if runtime.gettext(msgid) != entry.string
    ]
    assert wrong == []


def test_the_placeholder_checks_tell_problems_apart() -> None:
    assert problems_of("Hi %(name)s", Message("Hi %(name)s", "Hallo %(nom)s")) == [
        "placeholders ['nom'] for ['name']"
    ]
    assert problems_of("Hi", Message("Hi", "", flags=["fuzzy"])) == ["fuzzy", "empty"]
    assert problems_of("Done", Message("Done", "100% fertig")) == ["does not format (a stray %?)"]
    assert problems_of("Request %(id)s", Message("Request %(id)s", "Anfrage %(id)s")) == []
    assert problems_of("New", None) == ["no translation"]
