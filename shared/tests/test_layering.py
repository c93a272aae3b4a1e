"""What each layer may import: the event contracts and the service layers' record types need
no framework, and no service's domain code touches Kafka, HTTP or MongoDB. Each module is
imported in a fresh interpreter, so what it pulls in is all there is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    # Service layers that the history and intake API modules call.
    "history.service",
    "history.ports",
)

SERVICES = Path(__file__).resolve().parents[2] / "services"
# Every service's domain, found rather than listed: a new domain module is checked at once.
DOMAIN_MODULES = sorted(
    ".".join(path.relative_to(path.parents[2]).with_suffix("").parts)
    for path in SERVICES.glob("*/src/*/domain/*.py")
    if path.name != "__init__.py"
)
# Composing an e-mail from its templates is pure (no I/O), and jinja2 is how it is done.
MAY_RENDER = {"notifier.domain.compose", "notifier.domain.templates"}

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


@pytest.mark.parametrize("module", [*FRAMEWORK_FREE, *DOMAIN_MODULES])
def test_imports_no_framework(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True
    )
    forbidden = set(FRAMEWORKS) - ({"jinja2"} if module in MAY_RENDER else set())
    loaded = set(json.loads(done.stdout))
    assert not loaded & forbidden, f"{module} pulls in {sorted(loaded & forbidden)}"


def test_every_service_has_domain_modules_to_check() -> None:
    assert {m.split(".")[0] for m in DOMAIN_MODULES} == {"intake", "router", "notifier", "history"}


def test_api_and_page_modules_depend_on_the_port_not_the_mongodb_adapter() -> None:
    root = SERVICES
    offenders = [
        str(path.relative_to(root))
        for pattern in ("*/src/*/api*.py", "*/src/*/pages/*.py")
        for path in root.glob(pattern)
        if "adapters" in path.read_text()
    ] + [
        str(path.relative_to(root))
        for path in root.glob("*/src/*/api/*.py")
        if "adapters.mongo" in path.read_text() or "adapters.gridfs" in path.read_text()
    ]
    assert offenders == []
