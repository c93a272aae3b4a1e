"""What each layer may import: the event contracts and the service layers' record types need
no framework, and no service's domain code touches Kafka, HTTP or MongoDB. Each module is
imported in a fresh interpreter, so what it pulls in is all there is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

FRAMEWORKS = ("faststream", "fastapi", "starlette", "pymongo", "aiokafka", "motor", "jinja2")

FRAMEWORK_FREE = (
    # The contracts every producer and consumer of an event needs.
    "shared.contracts.events",
    "shared.contracts.topics",
    "shared.contracts.statuses",
    "shared.contracts.catalog",
    "shared.contracts.directory",
    "shared.contracts.identity",
    # The record, dead-letter and decoding types a service layer uses.
    "shared.kafka.records",
    # Every service's domain.
    "intake.domain.activity",
    "intake.domain.attachments",
    "intake.domain.idempotency",
    "intake.domain.outbox",
    "intake.domain.ratelimit",
    "intake.domain.submission",
    "router.domain.decision",
    "router.domain.routing",
    "router.domain.rules",
    "notifier.domain.backoff",
    "notifier.domain.plan",
    "history.domain.listing",
    "history.domain.projection",
    "history.domain.stats",
    # Service layers that the history and intake API modules call.
    "history.service",
    "history.ports",
)

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


@pytest.mark.parametrize("module", FRAMEWORK_FREE)
def test_imports_no_framework(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert not loaded & set(FRAMEWORKS), f"{module} pulls in {sorted(loaded & set(FRAMEWORKS))}"


def test_api_and_web_modules_depend_on_the_port_not_the_mongodb_adapter() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "services"
    offenders = [
        str(path.relative_to(root))
        for name in ("api", "web")
        for path in root.glob(f"*/src/*/{name}*.py")
        if "adapters" in path.read_text()
    ] + [
        str(path.relative_to(root))
        for path in root.glob("*/src/*/api/*.py")
        if "adapters.mongo" in path.read_text() or "adapters.gridfs" in path.read_text()
    ]
    assert offenders == []
