"""The router's `POST /v1/classify`, asked over HTTP with the service token. A suggestion is
a nicety: whatever goes wrong (a slow router, a refused token, a bad answer) is an absent
suggestion, counted and logged, never an error for the customer."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from pydantic import ValidationError

from shared.contracts.classification import Classification, ClassifyRequest
from shared.logging import get_logger

log = get_logger(__name__)
Outcome = Callable[[str], None]


class RouterClassifier:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_seconds: float,
        outcome: Outcome = lambda _: None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            # Few, short calls to one peer: keep the connections warm, cap how many.
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._outcome = outcome

    async def classify(self, request: ClassifyRequest) -> Classification | None:
        try:
            response = await self._client.post(
                "/v1/classify", content=request.model_dump_json(), headers=_JSON
            )
            response.raise_for_status()
            classification = Classification.model_validate_json(response.content)
        except httpx.TimeoutException:
            self._outcome("timeout")
            return None
        except (httpx.HTTPError, ValidationError) as exc:
            self._outcome("error")
            log.warning("no suggestion: the router's classify failed", error=type(exc).__name__)
            return None
        self._outcome("ok")
        return classification

    async def close(self) -> None:
        await self._client.aclose()


_JSON = {"Content-Type": "application/json"}
