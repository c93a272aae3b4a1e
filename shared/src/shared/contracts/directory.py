"""The account directory: the only source of reply addresses (never a typed one).

In production it is the exchange's account service's MongoDB collection; in development and
compose we seed demo accounts into the same shape.
"""

from __future__ import annotations

from pydantic import Field

from shared.contracts.events import AccountId, Model

DIRECTORY_DATABASE = "directory"
ACCOUNTS_COLLECTION = "accounts"


class AccountRecord(Model):
    account_id: AccountId = Field(alias="_id")
    email: str | None = None
    email_verified: bool = False
    display_name: str = ""
    locale: str = "en"
    kind: str = Field(default="customer", description="customer | corporate | agent")
    teams: tuple[str, ...] = Field(default=(), description="An agent's support teams")

    model_config = {"populate_by_name": True, "frozen": True, "extra": "ignore"}


DEMO_ACCOUNTS: tuple[AccountRecord, ...] = (
    AccountRecord(
        account_id="acc-1001", email="alice@example.com", email_verified=True, display_name="Alice"
    ),
    AccountRecord(
        account_id="acc-1002", email="bob@example.com", email_verified=True, display_name="Bob"
    ),
    AccountRecord(
        account_id="acc-1003",
        email="carol@example.com",
        email_verified=False,
        display_name="Carol (unverified e-mail)",
    ),
    AccountRecord(
        account_id="acc-2001",
        email="treasury@example.org",
        email_verified=True,
        display_name="Example Ltd",
        kind="corporate",
    ),
    AccountRecord(
        account_id="agent-1",
        email="agent.one@support.example.com",
        email_verified=True,
        display_name="Agent One",
        kind="agent",
        teams=("withdrawals-transfers", "payments-deposits", "triage"),
    ),
    AccountRecord(
        account_id="agent-2",
        email="agent.two@support.example.com",
        email_verified=True,
        display_name="Agent Two",
        kind="agent",
        teams=("trading-exchange", "cards", "fees-billing", "triage"),
    ),
    AccountRecord(
        account_id="agent-3",
        email="agent.three@support.example.com",
        email_verified=True,
        display_name="Agent Three",
        kind="agent",
        teams=("security", "verification", "account", "technical"),
    ),
)
