"""The shared message catalogue: `<lang>/LC_MESSAGES/messages.po` translate the catalog's
customer-facing texts (categories, documents, guidance) and the public status names, which
are data rather than code; `extract` finds them for `make messages` (see shared.i18n)."""
