"""HTTP: `POST /v1/classify`, service to service (the intake asks while a customer types).
Thin: check the caller's token, call the routing service, answer its Classification."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from router.service import RoutingService
from shared.contracts.classification import Classification, ClassifyRequest
from shared.http.auth import UNAUTHENTICATED_HEADERS
from shared.http.problems import ProblemError, problem_responses
from shared.settings import ClassifyTokenSettings

router = APIRouter(prefix="/v1", tags=["classification"])


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ClassifyToken",
    description="The service token ROUTER_CLASSIFY_TOKEN (the intake's INTAKE_CLASSIFY_TOKEN)",
)


async def require_classify_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """`Authorization: Bearer <ROUTER_CLASSIFY_TOKEN>`, else 401. Digests of equal length are
    compared in constant time, so timing tells neither the token nor its length."""
    if credentials is None or not credentials.credentials.strip():
        raise ProblemError(
            401,
            "Not authenticated",
            "the classify token is required as a bearer token",
            headers=UNAUTHENTICATED_HEADERS,
        )
    settings: ClassifyTokenSettings = request.app.state.settings
    presented = _digest(credentials.credentials.strip())
    if not hmac.compare_digest(presented, _digest(settings.classify_key)):
        raise ProblemError(
            401, "Invalid token", "not the classify token", headers=UNAUTHENTICATED_HEADERS
        )


def get_service(request: Request) -> RoutingService:
    service: RoutingService = request.app.state.routing_service
    return service


Service = Annotated[RoutingService, Depends(get_service)]


@router.post(
    "/classify",
    summary="Classify a request being written: team, categories, documents, guidance",
    description=(
        "For the Submit-a-request page's suggestions, service to service (bearer token"
        " `ROUTER_CLASSIFY_TOKEN`; submission never depends on this call). Answers what the"
        " router would do with the request as it stands (team, intent, calibrated confidence,"
        " priority, the policy rule that matched), the three most likely categories of the"
        " text with their probabilities (the model's intents and the rules' patterns), the"
        " documents the policy will require and the guidance the customer gets, both in the"
        " catalog's words. With `account_id`, the account's kind is looked up (a corporate"
        " account is exempt from the one-account rule). Without a model artifact the answer"
        ' comes from the rules and the category alone (`model_version` "none"). Internal:'
        " it names teams and confidences, never show it to a customer as is."
    ),
    responses={
        200: {"description": "The classification"},
        **problem_responses(401, 413, 422),
    },
    dependencies=[Depends(require_classify_token)],
)
async def classify(body: ClassifyRequest, service: Service) -> Classification:
    return await service.classify(body)
