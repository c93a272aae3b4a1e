"""Policy rules: configured, ordered, first match wins, each with an id (pure, no I/O)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shared.contracts.catalog import Catalog
from shared.contracts.events import Priority

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "policy_rules.toml"
T = TypeVar("T")

_KEYS = frozenset(
    {
        "id",
        "description",
        "team",
        "priority",
        "documents",
        "guidance",
        "flags",
        "categories",
        "patterns",
        "exempt_account_kinds",
        "precision",
    }
)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    id: str
    description: str
    team: str | None = None
    priority: Priority | None = None
    documents: tuple[str, ...] = ()
    """Catalog document ids a request matching the rule needs (e.g. ID photos)."""
    guidance: tuple[str, ...] = ()
    """Catalog guidance ids shown to the customer (e.g. one account per person)."""
    flags: tuple[str, ...] = ()
    categories: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()
    exempt_account_kinds: frozenset[str] = frozenset()
    precision: float | None = None
    """Of the labelled texts the patterns match (first), the share of the rule's category: how
    far a text match speaks for that category in the suggestions (router.domain.categories)."""

    @property
    def requires_id_documents(self) -> bool:
        return bool(self.documents)

    def exempts(self, account_kind: str | None) -> bool:
        return account_kind is not None and account_kind in self.exempt_account_kinds

    def matches_text(self, text: str, account_kind: str | None = None) -> bool:
        """The text alone matches (whatever category the customer picked)."""
        return not self.exempts(account_kind) and any(p.search(text) for p in self.patterns)

    def matches(self, category: str, text: str, account_kind: str | None = None) -> bool:
        if self.exempts(account_kind):
            return False
        return category in self.categories or self.matches_text(text)


def first_match(
    rules: tuple[PolicyRule, ...], category: str, text: str, account_kind: str | None = None
) -> PolicyRule | None:
    return next((r for r in rules if r.matches(category, text, account_kind)), None)


def first_text_match(
    rules: tuple[PolicyRule, ...], text: str, account_kind: str | None = None
) -> PolicyRule | None:
    """The first rule the text matches by its patterns alone (the category is not looked at)."""
    return next((r for r in rules if r.matches_text(text, account_kind)), None)


def exempted(rules: tuple[PolicyRule, ...], category: str, account_kind: str | None) -> bool:
    """A rule owning `category` exempts this kind of account (a corporate account picking
    "several accounts" gets neither that rule nor the category's guidance)."""
    return any(category in r.categories and r.exempts(account_kind) for r in rules)


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """What the policy asks of a request: the rule that matched, the documents it needs and
    the guidance the customer gets (catalog ids)."""

    rule: PolicyRule | None
    documents: tuple[str, ...]
    guidance: tuple[str, ...]


def apply_rules(
    rules: tuple[PolicyRule, ...],
    catalog: Catalog,
    category: str,
    text: str,
    account_kind: str | None = None,
) -> PolicyMatch:
    """The first matching rule, and the documents and guidance: the rule's, else those of the
    customer's category (unless a rule owning that category exempts the account)."""
    rule = first_match(rules, category, text, account_kind)
    picked = catalog.category(category)
    documents = rule.documents if rule else ()
    guidance = rule.guidance if rule else ()
    if picked is not None:
        documents = documents or picked.documents
        if not exempted(rules, category, account_kind):
            guidance = guidance or picked.guidance
    return PolicyMatch(rule=rule, documents=documents, guidance=guidance)


def _strings(entry: dict[str, object], key: str) -> tuple[str, ...]:
    value = entry.get(key, ())
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"rule {entry.get('id')!r}: {key} must be a list of strings")
    return tuple(value)


def _rule(entry: dict[str, object], catalog: Catalog) -> PolicyRule:
    rule_id = str(entry.get("id", ""))
    if not rule_id:
        raise ValueError("every rule needs an id")
    if "requires_id_documents" in entry:
        raise ValueError(
            f"rule {rule_id!r}: requires_id_documents is replaced by documents = [...]"
            f" (catalog document ids, e.g. {[d.id for d in catalog.documents]})"
        )
    if unknown := sorted(set(entry) - _KEYS):
        raise ValueError(f"rule {rule_id!r}: unknown keys {unknown}")
    team = entry.get("team")
    if team is not None and team not in catalog.teams:
        raise ValueError(f"rule {rule_id!r} routes to unknown team {team!r}")
    categories = _strings(entry, "categories")
    if unknown := sorted(set(categories) - set(catalog.category_ids)):
        raise ValueError(f"rule {rule_id!r} names unknown categories {unknown}")
    documents, guidance = _strings(entry, "documents"), _strings(entry, "guidance")
    try:
        catalog.documents_of(documents)
        catalog.guidance_of(guidance)
    except ValueError as exc:
        raise ValueError(f"rule {rule_id!r}: {exc} (not in the catalog)") from exc
    precision = entry.get("precision")
    if precision is not None and (not isinstance(precision, float) or not 0 < precision < 1):
        raise ValueError(f"rule {rule_id!r}: precision must be a number between 0 and 1")
    priority = entry.get("priority")
    return PolicyRule(
        id=rule_id,
        description=str(entry.get("description", "")),
        team=str(team) if team is not None else None,
        priority=Priority(str(priority)) if priority else None,
        documents=documents,
        guidance=guidance,
        flags=_strings(entry, "flags"),
        categories=frozenset(categories),
        patterns=tuple(re.compile(p, re.IGNORECASE) for p in _strings(entry, "patterns")),
        exempt_account_kinds=frozenset(_strings(entry, "exempt_account_kinds")),
        precision=precision,
    )


def parse_rules(raw: dict[str, object], catalog: Catalog) -> tuple[PolicyRule, ...]:
    """The rules, validated against the catalog: teams, categories, documents and guidance
    must exist there (a clear error at start-up, not a wrong decision later)."""
    entries = raw.get("rules", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("rules must be a list of tables")
    rules = tuple(_rule(entry, catalog) for entry in entries)
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise ValueError("rule ids must be unique")
    return rules


def parse_toml(source: Path, parse: Callable[[dict[str, Any]], T]) -> T:
    """`parse` of the TOML file; an error names the file (a configuration file at start-up)."""
    with source.open("rb") as handle:
        try:
            return parse(tomllib.load(handle))
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from exc


def load_rules(path: Path | None, catalog: Catalog) -> tuple[PolicyRule, ...]:
    return parse_toml(path or DEFAULT_RULES_PATH, lambda raw: parse_rules(raw, catalog))
