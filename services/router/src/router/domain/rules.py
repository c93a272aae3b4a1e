"""Policy rules: configured, ordered, first match wins, each with an id (pure, no I/O)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from shared.contracts.events import Priority

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "policy_rules.toml"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    id: str
    description: str
    team: str | None = None
    priority: Priority | None = None
    requires_id_documents: bool = False
    flags: tuple[str, ...] = ()
    categories: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()
    exempt_account_kinds: frozenset[str] = frozenset()

    def matches(self, category: str, text: str, account_kind: str | None = None) -> bool:
        if account_kind is not None and account_kind in self.exempt_account_kinds:
            return False
        return category in self.categories or any(p.search(text) for p in self.patterns)


def first_match(
    rules: tuple[PolicyRule, ...], category: str, text: str, account_kind: str | None = None
) -> PolicyRule | None:
    return next((r for r in rules if r.matches(category, text, account_kind)), None)


def parse_rules(raw: dict[str, object], known_teams: tuple[str, ...]) -> tuple[PolicyRule, ...]:
    entries = raw.get("rules", [])
    if not isinstance(entries, list):
        raise ValueError("rules must be a list of tables")
    rules: list[PolicyRule] = []
    for entry in entries:
        team = entry.get("team")
        if team is not None and team not in known_teams:
            raise ValueError(f"rule {entry['id']!r} routes to unknown team {team!r}")
        priority = entry.get("priority")
        rules.append(
            PolicyRule(
                id=str(entry["id"]),
                description=str(entry.get("description", "")),
                team=team,
                priority=Priority(priority) if priority else None,
                requires_id_documents=bool(entry.get("requires_id_documents", False)),
                flags=tuple(entry.get("flags", ())),
                categories=frozenset(entry.get("categories", ())),
                patterns=tuple(re.compile(p, re.IGNORECASE) for p in entry.get("patterns", ())),
                exempt_account_kinds=frozenset(entry.get("exempt_account_kinds", ())),
            )
        )
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise ValueError("rule ids must be unique")
    return tuple(rules)


def load_rules(path: Path | None, known_teams: tuple[str, ...]) -> tuple[PolicyRule, ...]:
    with (path or DEFAULT_RULES_PATH).open("rb") as handle:
        return parse_rules(tomllib.load(handle), known_teams)
