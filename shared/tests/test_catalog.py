from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.contracts.catalog import Catalog, load_catalog
from shared.contracts.topics import Topics

pytestmark = pytest.mark.unit


def test_default_catalog_maps_every_category_to_a_team() -> None:
    catalog = load_catalog()
    assert catalog.triage_team == "triage"
    assert {c.team for c in catalog.categories} <= set(catalog.teams)
    assert catalog.team_for("withdrawals") == "withdrawals-transfers"
    assert catalog.team_for("no-such-category") == "triage"
    needs_id = {c.id for c in catalog.categories if c.requires_id_documents}
    assert needs_id == {"disable-2fa", "disable-wpc", "change-email"}


def test_a_category_pointing_at_an_unknown_team_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown teams"):
        Catalog.model_validate(
            {
                "teams": ["a", "triage"],
                "triage_team": "triage",
                "categories": [{"id": "x", "label": "X", "team": "b"}],
            }
        )


def test_topic_names_live_in_one_place_and_take_a_prefix() -> None:
    topics = Topics(prefix="staging.")
    assert topics.submitted == "staging.tickets.submitted"
    assert topics.team("cards") == "staging.team.cards"
    assert Topics.dlq(topics.routed) == "staging.tickets.routed.dlq"
    assert set(topics.all_topics(("cards",))) >= {
        "staging.notifications",
        "staging.notifications.dlq",
    }
