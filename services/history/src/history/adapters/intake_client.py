"""The intake's HTTP API for the pages (httpx): the page forwards what the customer wrote,
with the customer's own bearer token, an Idempotency-Key, and the browser's address in
X-Forwarded-For (the intake honours it only from the proxies uvicorn's
--forwarded-allow-ips names: 127.0.0.1 by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from history.ports import Download, IntakeAnswer, IntakeUnavailableError, Upload


class HttpIntakeGateway:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            # Files take a while to send; the intake answers only once Kafka has the event.
            timeout=httpx.Timeout(timeout_seconds, connect=5.0),
            transport=transport,
        )

    @staticmethod
    def _headers(
        token: str | None,
        idempotency_key: str | None,
        client: str | None,
        locale: str | None = None,
    ) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if client:
            headers["X-Forwarded-For"] = client
        if locale:
            headers["Accept-Language"] = locale
        return headers

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        token: str | None = None,
        idempotency_key: str | None = None,
        client: str | None = None,
        locale: str | None = None,
    ) -> IntakeAnswer:
        headers = self._headers(token, idempotency_key, client, locale)
        return await self._send(
            self._client.build_request("POST", path, json=body, headers=headers)
        )

    async def post_form(
        self,
        path: str,
        fields: Mapping[str, str],
        files: Sequence[Upload],
        *,
        token: str | None = None,
        idempotency_key: str | None = None,
        client: str | None = None,
    ) -> IntakeAnswer:
        parts = [("attachments", (f.filename, f.content, f.content_type)) for f in files]
        request = self._client.build_request(
            "POST",
            path,
            data=dict(fields),
            # httpx sends urlencoded without files; the intake reads both.
            files=parts or None,
            headers=self._headers(token, idempotency_key, client),
        )
        return await self._send(request)

    async def _send(self, request: httpx.Request) -> IntakeAnswer:
        try:
            response = await self._client.send(request)
        except httpx.HTTPError as exc:
            raise IntakeUnavailableError(type(exc).__name__) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return IntakeAnswer(response.status_code, body, dict(response.headers))

    async def download(self, path: str, *, token: str) -> Download:
        request = self._client.build_request(
            "GET", path, headers={"Authorization": f"Bearer {token}"}
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise IntakeUnavailableError(type(exc).__name__) from exc

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            finally:
                await response.aclose()

        return Download(response.status_code, dict(response.headers), chunks())

    async def close(self) -> None:
        await self._client.aclose()
