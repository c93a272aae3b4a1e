"""The history pages' message catalogues: `<lang>/LC_MESSAGES/messages.po` (English msgids,
no catalogue for English), read by `shared.i18n.translations("history", locale)` over the
shared catalogue (public status names, catalog labels).

`pybabel extract` finds most msgids in the `_()` calls of the pages and templates. The texts
below are translated too (the templates' `_(label)`), but stand in Python data where no
extractor sees them: marked here, they stay in the catalogue when it is extracted again.
tests/test_history_locales.py checks they are still the page's labels.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "translate later"
    return message


# The orderings of My activities (history.pages.activities.ORDERINGS).
ORDERING_LABELS = (N_("Newest first"), N_("Oldest first"), N_("Recently updated"))
