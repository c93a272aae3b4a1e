"""Which drop-down categories a request's text is most likely about (pure: no I/O, no model).

The model gives probabilities over teams and over intents, not over the catalog's categories,
and two teams own several categories each (security: disable-2fa, disable-wpc,
unauthorised-activity; account: change-email, account, several-accounts). The categories'
probabilities are built in two steps:

1. **The model, through the intent map.** Intents are mutually exclusive, so a category's
   probability is the sum of its intents' (`intent_categories.toml` maps each intent to one
   category). A prediction lists its most probable intents only; the rest of each team's
   probability (the team's probability less its listed, mapped intents) goes to the team's
   default category. The result sums to the model's team probabilities: 1, less teams the
   catalog does not know.
2. **The rules' patterns, as evidence.** When the text matches the patterns of a policy rule
   (the first such rule, as routing reads it), the odds of the rule's category are multiplied
   by a likelihood ratio (Bayes' rule: odds(c | text, match) = ratio x odds(c | text)) and the
   other categories shrink in proportion, keeping the model's order among them: a model sure
   of another category still wins over a pattern that is often wrong. The ratio comes from
   the rule's `precision` (policy_rules.toml: of the training texts the patterns match, the
   share of the rule's category, smoothed), as the ratio that turns a uniform prior over the
   n customer-facing categories into that precision, (n - 1) x p / (1 - p). Without a model
   that is the answer: the rule's category with its precision, nothing else claimed.
   With a model it counts the pattern's words a second time (the model read them too): on the
   development hold-out this changes neither the top-1 accuracy nor the calibration of the top
   suggestion (ECE 0.007 with and without), and it keeps the suggestion in line with routing,
   which follows the rule whatever the model says.

`python -m router.classifier.evaluate` reports each rule's pattern precision on its data and
the calibration (ECE) of the top suggestion, so whether the probabilities are honest is a
figure, not a claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import floor
from pathlib import Path

from router.classifier.types import Prediction
from router.domain.rules import PolicyRule, parse_toml
from shared.contracts.catalog import Catalog

DEFAULT_INTENT_CATEGORIES_PATH = Path(__file__).resolve().parent.parent / "intent_categories.toml"
SUGGESTIONS = 3
PRECISION = 4  # decimals; probabilities are rounded down, so the shown ones never sum over 1


@dataclass(frozen=True, slots=True)
class CategoryMap:
    """Intent -> catalog category, with a default category per team."""

    team_defaults: Mapping[str, str]
    """Each real team's category for the intents not listed in `intents`."""
    intents: Mapping[str, str]
    """The intents whose category is not their team's default."""
    category_teams: Mapping[str, str]
    """Each customer-facing category's team (triage's "other" is not one)."""

    def category_of(self, intent: str | None, team: str) -> str | None:
        """The category of an intent of `team` (None for a team without categories)."""
        if intent is not None and intent in self.intents:
            return self.intents[intent]
        return self.team_defaults.get(team)


def parse_category_map(raw: Mapping[str, object], catalog: Catalog) -> CategoryMap:
    """Validated against the catalog: every category exists, every real team has a default
    category of its own (implied when the team has exactly one)."""
    teams_table, intents_table = raw.get("teams", {}), raw.get("intents", {})
    if not isinstance(teams_table, dict) or not isinstance(intents_table, dict):
        raise ValueError("[teams] and [intents] must be tables of category ids")
    category_teams = {c.id: c.team for c in catalog.categories if c.team != catalog.triage_team}
    for where, table in (("teams", teams_table), ("intents", intents_table)):
        if unknown := sorted(str(v) for v in table.values() if v not in category_teams):
            raise ValueError(f"[{where}] names unknown categories {unknown}")
    defaults: dict[str, str] = {}
    for team in catalog.teams:
        if team == catalog.triage_team:
            continue
        own = [c for c, t in category_teams.items() if t == team]
        default = teams_table.get(team) or (own[0] if len(own) == 1 else None)
        if default is None:
            raise ValueError(f"team {team!r} has categories {own}: name its default in [teams]")
        if category_teams.get(str(default)) != team:
            raise ValueError(f"team {team!r}'s default category {default!r} is another team's")
        defaults[team] = str(default)
    if unknown_teams := sorted(set(teams_table) - set(defaults)):
        raise ValueError(f"[teams] names unknown teams {unknown_teams}")
    return CategoryMap(
        team_defaults=defaults,
        intents={str(k): str(v) for k, v in intents_table.items()},
        category_teams=category_teams,
    )


def load_category_map(path: Path | None, catalog: Catalog) -> CategoryMap:
    source = path or DEFAULT_INTENT_CATEGORIES_PATH
    return parse_toml(source, lambda raw: parse_category_map(raw, catalog))


def model_categories(prediction: Prediction, categories: CategoryMap) -> dict[str, float]:
    """Step 1: the model's probability of each category (those above 0)."""
    scores: dict[str, float] = {}
    covered: dict[str, float] = {}
    for intent, p in prediction.intents:
        category = categories.intents.get(intent)
        if category is not None:
            scores[category] = scores.get(category, 0.0) + p
            team = categories.category_teams[category]
            covered[team] = covered.get(team, 0.0) + p
    for team, p in prediction.ranking:
        default = categories.team_defaults.get(team)
        rest = p - covered.get(team, 0.0)
        if default is not None and rest > 0:
            scores[default] = scores.get(default, 0.0) + rest
    total = sum(scores.values())
    if total > 1.0:  # an intent mapped across teams would count twice: never claim more than 1
        scores = {c: p / total for c, p in scores.items()}
    return {c: p for c, p in scores.items() if p > 0}


def odds_factor(rule: PolicyRule, categories: CategoryMap) -> float:
    """The likelihood ratio of a text match: from a uniform prior over the n customer-facing
    categories it yields the rule's measured precision, (n - 1) x p / (1 - p); 1 without one."""
    if rule.precision is None:
        return 1.0
    return (len(categories.category_teams) - 1) * rule.precision / (1 - rule.precision)


def with_rule_evidence(
    scores: Mapping[str, float], rule: PolicyRule | None, categories: CategoryMap
) -> dict[str, float]:
    """Step 2: the rule's categories `odds_factor` times more likely (in odds), the total
    unchanged. Without model scores, from a uniform prior, keeping the rule's categories only."""
    factor = odds_factor(rule, categories) if rule else 1.0
    targets = rule.categories & categories.category_teams.keys() if rule else frozenset()
    if factor <= 1.0 or not targets:
        return dict(scores)
    uniform = 1 / len(categories.category_teams)
    prior = dict(scores) or dict.fromkeys(categories.category_teams, uniform)
    total = sum(prior.values())
    weighted = {c: p * (factor if c in targets else 1.0) for c, p in prior.items()}
    norm = sum(weighted.values())
    posterior = {c: w / norm * total for c, w in weighted.items()}
    return posterior if scores else {c: p for c, p in posterior.items() if c in targets}


def category_scores(
    prediction: Prediction | None, rule: PolicyRule | None, categories: CategoryMap
) -> tuple[tuple[str, float], ...]:
    """Every category with a probability above 0, most likely first (ties by id): the model's
    through the intent map, updated by the text's rule, if any."""
    scores = model_categories(prediction, categories) if prediction else {}
    combined = with_rule_evidence(scores, rule, categories)
    return tuple(sorted(combined.items(), key=lambda item: (-item[1], item[0])))


def shown(probability: float) -> float:
    """Rounded down to PRECISION decimals: shown probabilities never add up to more than 1."""
    scale = float(10**PRECISION)
    return min(1.0, max(0.0, floor(probability * scale) / scale))
