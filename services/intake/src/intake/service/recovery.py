"""Account recovery for customers locked out by 2FA, who cannot sign in to file the very
request that would let them back in.

1. `admit` + `send_link`: someone gives an address. The answer is the same whether or not an
   account uses it, and comes before the lookup (`send_link` runs after the answer, so its
   time says nothing either); both limits (per address, per client) apply to every address.
   For an eligible account, a grant is stored and AccountRecoveryRequested published: the
   notifier mails the signed link to the account's own address — never to a typed one.
2. `file_request`: the link's holder files one request in the 2FA category, with ID photos.
   The grant is claimed first (one request, however many tabs), used for good once the
   request is recorded, and released when the form had a mistake.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from intake.domain.attachments import CheckedFile, counts_as_id_document
from intake.domain.recovery import (
    LinkState,
    RecoveryGrant,
    address_key,
    client_key,
    may_recover,
    normalise_email,
    state_of,
)
from intake.domain.submission import FieldError, SubmissionForm
from intake.ports import AccountEvents, AccountLookup, RateLimiter, RecoveryStore
from intake.service.common import best_effort
from intake.service.errors import InvalidSubmissionError, PublishFailedError, RateLimitedError
from intake.service.receipts import Submitted
from intake.service.submission import Submissions
from shared.contracts.events import AccountRecoveryRequested, utcnow
from shared.contracts.recovery import new_recovery_id, recovery_id_of
from shared.contracts.topics import Topics
from shared.i18n import normalise_locale
from shared.logging import get_logger

log = get_logger(__name__)

RECOVERY_CATEGORY = "disable-2fa"


class RecoveryLinkError(LookupError):
    """The link cannot file a request: forged or unknown, used, or expired."""

    def __init__(self, state: LinkState) -> None:
        super().__init__(
            {
                LinkState.INVALID: "this recovery link is not valid",
                LinkState.USED: "this recovery link was used already; ask for a new one",
                LinkState.EXPIRED: "this recovery link has expired; ask for a new one",
            }.get(state, "this recovery link cannot be used")
        )
        self.state = state


@dataclass
class AccountRecovery:
    topics: Topics
    grants: RecoveryStore
    accounts: AccountLookup
    events: AccountEvents
    submissions: Submissions
    per_address: RateLimiter
    per_client: RateLimiter
    secret: str
    per_address_limit: int = 3
    per_client_limit: int = 10
    window: timedelta = timedelta(hours=1)
    link_lifetime: timedelta = timedelta(minutes=30)
    lease: timedelta = timedelta(minutes=2)
    now: Callable[[], datetime] = utcnow

    async def admit(self, email: str, client: str) -> None:
        """Count the ask against the client and the address; refuse over either limit."""
        for limiter, key, limit in (
            (self.per_client, client_key(client), self.per_client_limit),
            (self.per_address, address_key(email), self.per_address_limit),
        ):
            decision = await limiter.acquire(key, uuid4().hex)
            if not decision.allowed:
                raise RateLimitedError(
                    "recovery links", limit, self.window, decision.retry_after_seconds
                )

    async def send_link(self, email: str, locale: str, correlation_id: str) -> bool:
        """After the answer: the grant and its event, when the address is an eligible
        account's. True when a link is on its way. Nobody waits for this any more, so a
        failure (MongoDB or Kafka away) is logged; the customer asks again."""
        try:
            return await self._send_link(email, locale, correlation_id)
        except Exception as exc:
            log.warning("recovery link not sent", error=type(exc).__name__)
            return False

    async def _send_link(self, email: str, locale: str, correlation_id: str) -> bool:
        account = await self.accounts.find_by_email(normalise_email(email))
        if account is None or not may_recover(account.kind, account.email_verified):
            log.info("recovery link not sent: no eligible account uses the address")
            return False
        now = self.now()
        grant = RecoveryGrant(
            recovery_id=new_recovery_id(),
            account_id=account.account_id,
            created_at=now,
            expires_at=now + self.link_lifetime,
        )
        await self.grants.add(grant)
        event = AccountRecoveryRequested(
            account_id=account.account_id,
            correlation_id=correlation_id,
            recovery_id=grant.recovery_id,
            expires_at=grant.expires_at,
            locale=normalise_locale(locale),
        )
        await self.events.publish(self.topics.recovery, event)
        log.info("recovery link requested", account_id=account.account_id)
        return True

    async def link(self, token: str) -> tuple[LinkState, RecoveryGrant | None]:
        recovery_id = recovery_id_of(token, self.secret)
        grant = await self.grants.get(recovery_id) if recovery_id else None
        return state_of(grant, self.now(), self.lease), grant

    async def file_request(
        self,
        token: str,
        form: SubmissionForm,
        *,
        files: Sequence[CheckedFile],
        correlation_id: str,
    ) -> Submitted:
        state, grant = await self.link(token)
        if state is not LinkState.VALID or grant is None:
            raise RecoveryLinkError(state)
        if not counts_as_id_document([f.content_type for f in files]):
            raise InvalidSubmissionError(
                [FieldError("attachments", "attach your ID confirmation photos (images or PDF)")]
            )
        if not await self.grants.claim(grant.recovery_id, self.now(), self.lease):
            raise RecoveryLinkError(LinkState.USED)  # another submission took it a moment ago
        try:
            submitted = await self.submissions.submit(
                dataclasses.replace(form, category=RECOVERY_CATEGORY),
                account_id=grant.account_id,
                correlation_id=correlation_id,
                files=files,
                # A retry after a crash or an unconfirmed publish files the same request.
                idempotency_key=f"recovery:{grant.recovery_id}",
            )
        except PublishFailedError:
            raise  # recorded: it will be delivered; the claim's lease covers the retry
        except BaseException:
            await best_effort(self.grants.release(grant.recovery_id), "release recovery grant")
            raise
        await self.grants.complete(grant.recovery_id, submitted.receipt.ticket_id)
        log.info("recovery request filed", ticket_id=submitted.receipt.ticket_id)
        return submitted
