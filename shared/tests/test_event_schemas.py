"""Each event's JSON schema is pinned. A compatible change (a new optional field) passes; any
other change fails until it becomes a new schema_version. UPDATE_SCHEMAS=1 rewrites the pins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.events import ALL_EVENT_TYPES, Model

SCHEMAS = Path(__file__).with_name("schemas")
pytestmark = pytest.mark.unit


def incompatibilities(pinned: dict[str, Any], current: dict[str, Any], path: str = "") -> list[str]:
    """What makes `current` unable to read or write what `pinned` described."""
    problems: list[str] = []
    pinned_props = pinned.get("properties", {})
    current_props = current.get("properties", {})
    for name, schema in pinned_props.items():
        if name not in current_props:
            problems.append(f"{path}{name}: removed")
        elif current_props[name] != schema:
            problems.append(f"{path}{name}: changed")
    added_required = set(current.get("required", [])) - set(pinned.get("required", []))
    problems += [f"{path}{name}: new required field" for name in sorted(added_required)]
    for name, definition in pinned.get("$defs", {}).items():
        if name not in current.get("$defs", {}):
            problems.append(f"$defs.{name}: removed")
        else:
            problems += incompatibilities(definition, current["$defs"][name], f"$defs.{name}.")
    return problems


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES, ids=lambda t: t.__name__)
def test_schema_matches_pin(event_type: type[Model]) -> None:
    pin = SCHEMAS / f"{event_type.__name__}.v1.json"
    current = event_type.model_json_schema()
    if os.environ.get("UPDATE_SCHEMAS") == "1" or not pin.exists():
        pin.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    problems = incompatibilities(json.loads(pin.read_text()), current)
    assert not problems, f"{event_type.__name__} changed incompatibly: {problems}"


def test_checker_accepts_a_new_optional_field_and_rejects_the_rest() -> None:
    pinned = {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert (
        incompatibilities(
            pinned,
            {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]},
        )
        == []
    )
    assert incompatibilities(pinned, {"properties": {}, "required": []}) == ["a: removed"]
    assert incompatibilities(
        pinned, {"properties": {"a": {"type": "integer"}}, "required": ["a"]}
    ) == ["a: changed"]
    assert incompatibilities(
        pinned, {"properties": {"a": {"type": "string"}, "b": {}}, "required": ["a", "b"]}
    ) == ["b: new required field"]


def test_every_event_type_is_pinned() -> None:
    pinned = {p.name.removesuffix(".v1.json") for p in SCHEMAS.glob("*.v1.json")}
    assert pinned == {t.__name__ for t in ALL_EVENT_TYPES}


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES, ids=lambda t: t.__name__)
def test_event_type_literal_is_the_class_name(event_type: type[Model]) -> None:
    assert event_type.model_fields["event_type"].default == event_type.__name__
