"""The intake's HTTP API, one module per audience: a new request (`submission`), a customer's
own request (`customer`), agents' tools (`agent`); `errors` maps use-case errors to
problem+json, `forms` reads bodies, `schemas` is the contract."""

from __future__ import annotations

from intake.api import agent, customer, submission
from intake.api.errors import install_error_handlers

ROUTERS = (submission.router, customer.router, agent.router)

__all__ = ["ROUTERS", "install_error_handlers"]
