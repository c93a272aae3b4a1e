"""Request smuggling: a request whose body could end in two places is refused, 400 problem+json,
and its connection closed, on every service (shared.http.framing; shared.http.server for what h11
itself refuses). The attack that found it: Content-Length and Transfer-Encoding together were
accepted, and what followed the chunked body was served as a second request on the
connection, one a proxy going by Content-Length would never have seen."""

from __future__ import annotations

import pytest

from devstack.stack import SERVICES, EmbeddedStack

from .http_support import exchange, request_head

pytestmark = pytest.mark.e2e

SMUGGLED = request_head("GET", "/healthz")
# By its chunks (h11) the body ends at "0"; by its length (a proxy in front) it runs on over the
# smuggled request.
BOTH_FRAMINGS = (
    request_head(
        "POST",
        "/healthz",
        {
            "Content-Type": "application/json",
            "Content-Length": str(len(b"0\r\n\r\n" + SMUGGLED)),
            "Transfer-Encoding": "chunked",
        },
    )
    + b"0\r\n\r\n"
    + SMUGGLED
)
AMBIGUOUS = {
    "transfer-encoding-not-chunked": request_head(
        "POST", "/healthz", {"Transfer-Encoding": "gzip, chunked"}
    )
    + b"0\r\n\r\n",
    "transfer-encoding-twice": request_head(
        "POST", "/healthz", {"Transfer-Encoding": "chunked", "transfer-encoding": "chunked"}
    )
    + b"0\r\n\r\n",
    "differing-content-lengths": request_head(
        "POST", "/healthz", {"Content-Length": "2", "content-length": "7"}
    )
    + b"{}",
    "content-length-list": request_head("POST", "/healthz", {"Content-Length": "2, 7"}) + b"{}",
}


@pytest.mark.parametrize("service", SERVICES)
async def test_a_smuggled_request_is_never_served(services: EmbeddedStack, service: str) -> None:
    result = await exchange(services.config.url(service), BOTH_FRAMINGS, deadline=10)

    assert result.closed, "the connection stays open for the smuggled request"
    responses = result.responses
    assert [r.status for r in responses] == [400], "one request, one answer: the refusal"
    (refusal,) = responses
    assert refusal.is_problem
    assert "Transfer-Encoding" in refusal.json()["detail"]
    assert refusal.headers["connection"].lower() == "close"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("case", sorted(AMBIGUOUS))
async def test_ambiguous_framing_is_refused_as_problem_json(
    services: EmbeddedStack, service: str, case: str
) -> None:
    result = await exchange(services.config.url(service), AMBIGUOUS[case], deadline=10)

    assert result.closed
    (refusal,) = result.responses
    assert refusal.status == 400
    assert refusal.is_problem, refusal.headers
    assert refusal.json()["status"] == 400
    assert refusal.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("service", SERVICES)
async def test_a_well_framed_request_keeps_its_connection(
    services: EmbeddedStack, service: str
) -> None:
    two = request_head("GET", "/healthz") + request_head("GET", "/healthz", {"Connection": "close"})
    result = await exchange(services.config.url(service), two, deadline=10)
    assert [r.status for r in result.responses] == [200, 200]
