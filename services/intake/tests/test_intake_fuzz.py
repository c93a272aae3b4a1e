"""Fuzzing every operation of the OpenAPI schema over real HTTP, with valid and invalid tokens,
shaped and shapeless bodies, odd paths and headers: whatever comes in, never a 5xx.

Hypothesis draws the requests (a bounded number per operation, so this is part of the normal
run); the schema itself says which operations exist and what their bodies look like, and a
test fails if the schema grows an operation this file does not fuzz.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.testing import bearer
from shared.contracts.identity import Role

from .intake_samples import ALL_VALID, ELF, GIF, jpeg
from .intake_support import IntakeUnderTest
from .intake_tokens import bad_tokens

pytestmark = pytest.mark.integration

OPERATIONS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/asyncapi"),
    ("GET", "/asyncapi.json"),
    ("GET", "/asyncapi.yaml"),
    ("GET", "/v1/categories"),
    ("POST", "/v1/tickets"),
    ("POST", "/v1/tickets/suggestions"),
    ("POST", "/v1/account-recovery"),
    ("POST", "/v1/account-recovery/link"),
    ("POST", "/v1/account-recovery/request"),
    ("GET", "/v1/tickets/{ticket_id}/attachments/{attachment_id}"),
    ("POST", "/v1/tickets/{ticket_id}/comments"),
    ("POST", "/v1/tickets/{ticket_id}/documents"),
    ("POST", "/v1/tickets/{ticket_id}/replies"),
    ("POST", "/v1/tickets/{ticket_id}/status"),
    ("POST", "/v1/tickets/{ticket_id}/information-requests"),
    ("POST", "/v1/tickets/{ticket_id}/notes"),
    ("POST", "/v1/tickets/{ticket_id}/transfers"),
    ("POST", "/v1/tickets/{ticket_id}/assignment"),
    ("DELETE", "/v1/tickets/{ticket_id}/assignment"),
]
EXAMPLES_PER_OPERATION = 30
FUZZ_OWNER = "fuzz-owner-1"


@pytest.fixture(scope="module")
def world(intake_server: IntakeUnderTest) -> Iterator[dict[str, Any]]:
    """The schema and one real request with one real attachment, so fuzzed paths hit both
    existing and unknown ids."""
    with httpx.Client(base_url=intake_server.url, timeout=20) as client:
        schema = client.get("/openapi.json").json()
        created = client.post(
            "/v1/tickets",
            headers=bearer(FUZZ_OWNER),
            data={
                "category": "technical",
                "subject": "App crashes",
                "description": "The app crashes when I open the wallet page.",
            },
            files=[("attachments", ("crash.jpg", jpeg(), "image/jpeg"))],
        )
        assert created.status_code == 202, created.text
        accepted = created.json()
        yield {
            "url": intake_server.url,
            "schema": schema,
            "ticket_id": accepted["ticket_id"],
            "attachment_id": accepted["attachments"][0]["attachment_id"],
        }


def test_every_operation_is_fuzzed(world: dict[str, Any]) -> None:
    in_schema = {
        (method.upper(), path)
        for path, item in world["schema"]["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert in_schema == set(OPERATIONS)


# --- strategies -----------------------------------------------------------------------------

BAD = bad_tokens()
AUTH = st.sampled_from(
    [
        bearer(FUZZ_OWNER),
        bearer("fuzz-stranger"),
        bearer("fuzz-agent", Role.AGENT),
        bearer("fuzz-dashboard", Role.DASHBOARD),
        *BAD.values(),
    ]
)
# What an HTTP client can send at all (no surrounding space, printable ASCII).
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300).map(
    str.strip
)
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FILE_BYTES = st.sampled_from([*ALL_VALID.values(), GIF, ELF, b""]) | st.binary(max_size=2000)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def _property_value(schema: dict[str, Any], prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    prop = _resolve(schema, prop)
    choices: list[Any] = list(prop.get("enum", [])) + list(prop.get("examples", []))
    for option in prop.get("anyOf", []):
        option = _resolve(schema, option)
        choices += list(option.get("enum", [])) + list(option.get("examples", []))
    valid = st.sampled_from(choices) if choices else st.text(min_size=1, max_size=50)
    around_limits = st.sampled_from([9, 10, 200, 201, 20_000, 20_001]).map(lambda n: "x" * n)
    return valid | JSON_VALUE | around_limits


@st.composite
def shaped_json(draw: st.DrawFn, schema: dict[str, Any], body: dict[str, Any]) -> Any:
    """An object with the schema's property names (some left out, some extra) and values
    that are sometimes valid and sometimes anything."""
    node = _resolve(schema, body)
    properties = node.get("properties", {})
    value = {
        name: draw(_property_value(schema, prop))
        for name, prop in properties.items()
        if draw(st.booleans()) or name in node.get("required", ())
    }
    if draw(st.booleans()):
        value.update(draw(st.dictionaries(st.text(max_size=12), JSON_VALUE, max_size=3)))
    return value


@st.composite
def multipart_body(draw: st.DrawFn) -> tuple[dict[str, str], list[Any]]:
    fields = draw(
        st.dictionaries(
            st.sampled_from(["category", "subject", "description", "locale", "other"]),
            st.sampled_from(["technical", "disable-2fa", "App crashes on start up"])
            | st.text(max_size=300),
            max_size=5,
        )
    )
    files = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["attachments", "attachments", "file"]),
                st.tuples(
                    st.text(max_size=40),
                    FILE_BYTES,
                    st.sampled_from(["image/jpeg", "application/pdf", "text/plain", "x/y"]),
                ),
            ),
            max_size=12,
        )
    )
    return fields, files


@st.composite
def requests(draw: st.DrawFn, world: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    schema = world["schema"]
    ticket = draw(
        st.sampled_from([world["ticket_id"], "AAAA-BBBB-CCCC", "zzzz"]) | st.text(min_size=1)
    )
    attachment = draw(st.sampled_from([world["attachment_id"], "att-x"]) | st.text(min_size=1))
    url = path.replace("{ticket_id}", quote(ticket, safe="")).replace(
        "{attachment_id}", quote(attachment, safe="")
    )
    headers: dict[str, str] = dict(draw(AUTH))
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(HEADER_TEXT)
    if draw(st.booleans()):
        headers["X-Correlation-ID"] = draw(HEADER_TEXT)
    request: dict[str, Any] = {"method": method, "url": url, "headers": headers}
    if method != "POST":
        return request
    content = schema["paths"][path]["post"].get("requestBody", {}).get("content", {})
    kinds = ["json", "bytes", "none"] + (["multipart"] if "multipart/form-data" in content else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "json":
        body_schema = content.get("application/json", {}).get("schema", {})
        value = draw(shaped_json(schema, body_schema) | JSON_VALUE)
        request["content"] = json.dumps(value).encode()
        headers["Content-Type"] = "application/json"
    elif kind == "multipart":
        request["data"], request["files"] = draw(multipart_body())
    elif kind == "bytes":
        request["content"] = draw(st.binary(max_size=3000))
        headers["Content-Type"] = draw(
            st.sampled_from(
                [
                    "application/json",
                    "multipart/form-data; boundary=x",
                    "multipart/form-data",
                    "application/x-www-form-urlencoded",
                    "text/plain",
                ]
            )
            | HEADER_TEXT
        )
    return request


# --- the fuzz -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_5xx(world: dict[str, Any], method: str, path: str) -> None:
    with httpx.Client(base_url=world["url"], timeout=30) as client:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            database=None,  # the same bounded run every time
            derandomize=True,
        )
        @given(request=requests(world, method, path))
        def fuzz(request: dict[str, Any]) -> None:
            response = client.request(**request)
            assert response.status_code < 500, (request, response.status_code, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"

        fuzz()
