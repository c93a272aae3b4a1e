"""Policy rules: configured, ordered, each with an id (pure, no I/O).

A rule matches a request by the customer's pick (`categories`), by the text (`patterns`) or by
the model's intent (`intents`). Rules compose (`compose`): routing is the first rule matched by
text or intent that names a team; documents, flags and guidance come from every contributing
rule; the priority is the highest. A rule matched by the pick alone speaks only while the pick
stands (the request stays with the picked team): a wrong pick must not bring its rule along.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

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
        "intents",
    }
)
INTENT_FLOOR = 0.5
"""The model's probability of an intent from which a rule's `intents` match."""
_PRIORITY_RANK = {Priority.NORMAL: 0, Priority.URGENT: 1}

Via = Literal["category", "text", "intent"]


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
    intents: frozenset[str] = frozenset()
    """Model intents that match the rule (at INTENT_FLOOR or more), whatever the category."""

    @property
    def requires_id_documents(self) -> bool:
        return bool(self.documents)

    def exempts(self, account_kind: str | None) -> bool:
        return account_kind is not None and account_kind in self.exempt_account_kinds

    def matches_text(self, text: str, account_kind: str | None = None) -> bool:
        """The text alone matches (whatever category the customer picked)."""
        return not self.exempts(account_kind) and any(p.search(text) for p in self.patterns)


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
class RuleHit:
    rule: PolicyRule
    via: Via
    """How it matched: by the text's patterns, the model's intent, or the customer's pick."""

    def describe(self, what: str) -> str:
        return f"rule:{self.rule.id} by {self.via}: {what}"


def hits(
    rules: tuple[PolicyRule, ...],
    category: str,
    text: str,
    intents: Mapping[str, float] | None = None,
    account_kind: str | None = None,
) -> tuple[RuleHit, ...]:
    """Every rule the request matches, in order, each by its strongest evidence."""
    found: list[RuleHit] = []
    for rule in rules:
        if rule.exempts(account_kind):
            continue
        if any(p.search(text) for p in rule.patterns):
            found.append(RuleHit(rule, "text"))
        elif intents and any(intents.get(i, 0.0) >= INTENT_FLOOR for i in rule.intents):
            found.append(RuleHit(rule, "intent"))
        elif category in rule.categories:
            found.append(RuleHit(rule, "category"))
    return tuple(found)


def routing_hit(found: Iterable[RuleHit]) -> RuleHit | None:
    """The first rule that names a team on the request's own evidence (text or intent)."""
    return next((h for h in found if h.via != "category" and h.rule.team is not None), None)


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """What the policy asks of a request: the rule that routed it (if one did), the documents
    it needs, the guidance the customer gets (catalog ids), flags, the priority, and a line per
    contribution for the decision's reasons."""

    rule: PolicyRule | None
    documents: tuple[str, ...] = ()
    guidance: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    priority: Priority = Priority.NORMAL
    contributions: tuple[str, ...] = ()


def _union(groups: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def compose(
    found: tuple[RuleHit, ...],
    catalog: Catalog,
    category: str,
    team: str,
    *,
    routed_by: RuleHit | None,
    pick_stands: bool,
    exempt: bool = False,
) -> PolicyMatch:
    """What the matching rules ask of a request that goes to `team`: every rule matched by
    text or intent, and those matched by the pick alone while the pick stands; plus the picked
    category's own documents and guidance while it stands (guidance not for an exempt account)."""
    speaking = [h for h in found if h.via != "category" or pick_stands]
    picked = catalog.category(category) if pick_stands else None
    documents = _union([*(h.rule.documents for h in speaking), picked.documents if picked else ()])
    guidance = _union(
        [*(h.rule.guidance for h in speaking), picked.guidance if picked and not exempt else ()]
    )
    priority = max(
        (h.rule.priority for h in speaking if h.rule.priority),
        key=_PRIORITY_RANK.__getitem__,
        default=Priority.NORMAL,
    )
    contributions = []
    for hit in speaking:
        parts = [f"routes to {team}"] if hit is routed_by else []
        parts += [f"priority {hit.rule.priority}"] if hit.rule.priority else []
        parts += [f"documents {', '.join(hit.rule.documents)}"] if hit.rule.documents else []
        parts += [f"flags {', '.join(hit.rule.flags)}"] if hit.rule.flags else []
        parts += [f"guidance {', '.join(hit.rule.guidance)}"] if hit.rule.guidance else []
        contributions.append(hit.describe("; ".join(parts) or "matched"))
    return PolicyMatch(
        rule=routed_by.rule if routed_by else None,
        documents=documents,
        guidance=guidance,
        flags=_union(h.rule.flags for h in speaking),
        priority=priority,
        contributions=tuple(contributions),
    )


def apply_rules(
    rules: tuple[PolicyRule, ...],
    catalog: Catalog,
    category: str,
    text: str,
    account_kind: str | None = None,
) -> PolicyMatch:
    """The policy on the pick and the text alone (no model): the routing rule, and what every
    matching rule asks, the pick taken to stand unless a rule moves the request."""
    found = hits(rules, category, text, account_kind=account_kind)
    routed_by = routing_hit(found)
    picked_team = catalog.team_for(category)
    team = routed_by.rule.team if routed_by and routed_by.rule.team else picked_team
    return compose(
        found,
        catalog,
        category,
        team,
        routed_by=routed_by,
        pick_stands=team == picked_team,
        exempt=exempted(rules, category, account_kind),
    )


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
        intents=frozenset(_strings(entry, "intents")),
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
