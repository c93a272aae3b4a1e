"""Babel extraction methods for the customer-facing texts that live in data rather than in
gettext calls, named in babel.cfg's [extractors]: `catalog` for catalog.toml (category
labels, document labels, guidance titles, texts and steps), `statuses` for the public status
names (the values of PUBLIC_NAMES in shared/contracts/statuses.py). `extract_package` is what
`pybabel extract -F babel.cfg` finds in a package, for tests/test_message_catalogues.py.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

MAPPING = Path(__file__).resolve().parents[4] / "babel.cfg"  # the repository's

Extracted = tuple[int, str, str, list[str]]


def catalog_texts(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) for every customer-facing text of a parsed catalog, in file order."""
    for category in data.get("categories", ()):
        yield f"category {category['id']}: label", category["label"]
    for document in data.get("documents", ()):
        yield f"document {document['id']}: label", document["label"]
    for guidance in data.get("guidance", ()):
        yield f"guidance {guidance['id']}: title", guidance["title"]
        yield f"guidance {guidance['id']}: text", guidance["text"]
        for number, step in enumerate(guidance.get("steps", ()), start=1):
            yield f"guidance {guidance['id']}: step {number}", step


def catalog(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> Iterator[Extracted]:
    """Babel extraction method for catalog.toml."""
    source = fileobj.read().decode()
    lines = source.splitlines()
    for where, text in catalog_texts(tomllib.loads(source)):
        probe = text[:40].replace('"', '\\"')
        line = next((n for n, content in enumerate(lines, start=1) if probe in content), 0)
        yield line, "", text, [f"catalog.toml {where}"]


def statuses(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> Iterator[Extracted]:
    """Babel extraction method for the public status names (PUBLIC_NAMES' values)."""
    for node in ast.walk(ast.parse(fileobj.read())):
        target: ast.expr
        value: ast.expr | None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "PUBLIC_NAMES":
            names = value.values if isinstance(value, ast.Dict) else []
            for item in names:
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    yield item.lineno, "", item.value, ["public status name"]


def extract_package(directory: Path, mapping: Path = MAPPING) -> Catalog:
    """Every msgid of the package at `directory`, with where it stands, as babel.cfg maps it."""
    with mapping.open() as handle:
        methods, options = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    found = Catalog(fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        directory, methods, options
    ):
        found.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return found
