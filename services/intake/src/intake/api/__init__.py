"""The intake's HTTP API, one module per audience: a new request (`submission`), a customer's
own request (`customer`), agents' tools (`agent`), account recovery for the locked-out
(`recovery`); `errors` maps use-case errors to
problem+json, `forms` reads bodies, `schemas` is the contract."""

from __future__ import annotations

from intake.api import agent, customer, recovery, submission
from intake.api.errors import install_error_handlers

ROUTERS = (submission.router, customer.router, agent.router, recovery.router)

__all__ = ["ROUTERS", "install_error_handlers"]
