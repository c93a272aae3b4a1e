"""The mails' templates in the customer's language: one sandboxed Jinja environment per locale,
built once, whose gettext is that locale's message catalogue (shared.i18n: the notifier's own
catalogue merged with the shared one). Templates hold English msgids only
(`notifier/templates/`); `make messages` extracts them, `notifier/locales/<lang>/` translate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel.support import NullTranslations
from jinja2 import Environment, PackageLoader, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shared.i18n import normalise_locale, translations


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for "mark only"
    """Mark a text for extraction (`make messages`) that is translated later, by gettext."""
    return message


@dataclass(frozen=True, slots=True)
class LocalisedTemplates:
    locale: str
    environment: Environment
    catalogue: NullTranslations

    def gettext(self, message: str) -> str:
        return self.catalogue.gettext(message)

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.environment.get_template(name).render({**context, "locale": self.locale})


class MailTemplates:
    """`templates(locale)`: the mails' templates and texts in that (normalised) locale."""

    def __init__(self, package: str = "notifier") -> None:
        self._package = package
        self._built: dict[str, LocalisedTemplates] = {}

    def __call__(self, locale: str | None) -> LocalisedTemplates:
        chosen = normalise_locale(locale)
        built = self._built.get(chosen)
        if built is None:
            built = self._built[chosen] = self._build(chosen)
        return built

    def _build(self, locale: str) -> LocalisedTemplates:
        environment = ImmutableSandboxedEnvironment(
            loader=PackageLoader(self._package, "templates"),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        # Whitespace inside {% trans %} folds to one space, so a template may wrap its lines
        # (babel.cfg extracts with the same policy: the msgids match).
        environment.policies["ext.i18n.trimmed"] = True
        catalogue = translations(self._package, locale)
        # newstyle: _() and {% trans %} format their own placeholders, escaped under autoescape
        install = environment.install_gettext_translations  # type: ignore[attr-defined]
        install(catalogue, newstyle=True)
        return LocalisedTemplates(locale, environment, catalogue)


def mail_templates() -> MailTemplates:
    return MailTemplates("notifier")
