"""Who is asking: the account a verified sign-in token names and the role it grants."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    DASHBOARD = "dashboard"


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    role: Role
