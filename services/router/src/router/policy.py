"""The routing policy as shipped: the catalog, the rules and the intent map from their files
(for evaluation and tests; the service reads the same with its settings' overrides)."""

from __future__ import annotations

from router.classifier.data import TRAINED_LANGUAGES
from router.domain.categories import load_category_map
from router.domain.decision import DecisionThresholds
from router.domain.routing import RoutingPolicy
from router.domain.rules import load_rules
from shared.contracts.catalog import load_catalog


def shipped_policy(thresholds: DecisionThresholds | None = None) -> RoutingPolicy:
    catalog = load_catalog()
    return RoutingPolicy(
        catalog=catalog,
        rules=load_rules(None, catalog),
        thresholds=thresholds or DecisionThresholds(),
        categories=load_category_map(None, catalog),
        languages=frozenset(TRAINED_LANGUAGES),
    )
