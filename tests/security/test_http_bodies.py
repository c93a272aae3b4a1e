"""Every service caps request bodies (shared.http.limits in build_app): a declared length over
the cap is refused from the head alone, before a byte of the body is read or even sent, and a
chunked body is cut off at the cap. The attack that found it: a 30 MiB multipart post to the
history's sign-in form, read whole before its 401."""

from __future__ import annotations

import pytest

from devstack.stack import SERVICES, EmbeddedStack
from devstack.testing import bearer
from history.settings import HistorySettings
from intake.settings import IntakeSettings
from shared.settings import ServiceSettings

from .http_support import exchange, request_head, send_chunked_until_answered

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
DEFAULT_CAP = ServiceSettings().max_body_bytes

# A POST each service has; where a route reads its body, that one (history: the sign-in form).
POSTS = {
    "intake": ("/v1/tickets", "application/json"),
    "router": ("/healthz", "application/json"),
    "notifier": ("/healthz", "application/json"),
    "history": ("/my-activities/session", "multipart/form-data; boundary=x"),
}
# The routes that read a body, and the cap they read it under.
READS_BODY = {
    "intake": IntakeSettings().max_json_bytes,
    "history": HistorySettings().max_body_bytes,
}
# How a well-formed body starts, so the parser reads on (to the cap) rather than stopping at
# garbage: a JSON string, and one form field whose value never ends.
BODY_STARTS = {
    "intake": b'{"subject": "',
    "history": b'--x\r\nContent-Disposition: form-data; name="token"\r\n\r\n',
}


def test_the_default_cap_is_small() -> None:
    assert DEFAULT_CAP == 64 * 1024


@pytest.mark.parametrize("service", SERVICES)
async def test_a_declared_length_over_the_cap_is_refused_before_the_body(
    services: EmbeddedStack, service: str
) -> None:
    path, content_type = POSTS[service]
    head = request_head(
        "POST", path, {"Content-Type": content_type, "Content-Length": str(30 * MIB)}
    )
    # The head only: a server that waits for the body before answering never answers.
    result = await exchange(services.config.url(service), head, deadline=10)

    (response,) = result.responses
    assert response.status == 413, response
    assert response.is_problem
    assert response.json()["status"] == 413
    assert response.headers["connection"].lower() == "close"
    assert result.closed


@pytest.mark.parametrize("service", sorted(READS_BODY))
async def test_a_chunked_body_over_the_cap_is_cut_off(
    services: EmbeddedStack, service: str
) -> None:
    path, content_type = POSTS[service]
    cap = READS_BODY[service]
    # Signed in, so the intake reads the body (it checks the token first).
    headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked"} | bearer("acc-1001")
    head = request_head("POST", path, headers)
    result = await send_chunked_until_answered(
        services.config.url(service), head, total=cap + 64 * 1024, prefix=BODY_STARTS[service]
    )

    (response,) = result.responses
    assert response.status == 413, response
    assert response.is_problem
    assert result.closed


@pytest.mark.parametrize("service", sorted(set(SERVICES) - set(READS_BODY)))
async def test_a_service_without_a_body_route_never_reads_one(
    services: EmbeddedStack, service: str
) -> None:
    """Router and notifier take no request body anywhere: a chunked one is answered from the
    head, while the client is still sending, and nothing of it is held."""
    path, content_type = POSTS[service]
    head = request_head(
        "POST", path, {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
    )
    total = DEFAULT_CAP * 16
    result = await send_chunked_until_answered(
        services.config.url(service), head, total=total, deadline=2
    )
    response = result.responses[0]
    assert response.status == 405
    assert response.is_problem
    assert result.body_sent < total
