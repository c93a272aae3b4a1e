"""A batch's MongoDB reads and claims, done up front: the accounts of every event in one
query, the requests' languages in another, every planned notification claimed in one write.
Each mail then needs one round trip of its own (marking it sent) instead of four, which
matters most where MongoDB is the bottleneck (the embedded stack: docs/performance.md).

The wrappers answer from what was fetched and fall back to the real port for anything else,
so the service's per-notification logic (NotificationService._deliver) does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from notifier.ports import AccountDirectory, LedgerEntry, NotificationLedger, RequestLocales
from shared.contracts.directory import AccountRecord


@dataclass
class PrefetchedDirectory:
    records: dict[str, AccountRecord | None]
    """Every prefetched id: its record, or None when the directory has none."""
    directory: AccountDirectory

    async def get(self, account_id: str) -> AccountRecord | None:
        if account_id in self.records:
            return self.records[account_id]
        return await self.directory.get(account_id)

    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        return await self.directory.get_many(account_ids)


@dataclass
class PreclaimedLedger:
    claims: dict[str, LedgerEntry | None]
    """claim()'s answer per notification id, taken for the batch; each is used once."""
    ledger: NotificationLedger

    async def claim(
        self, notification_id: str, *, retake_failed: bool = False
    ) -> LedgerEntry | None:
        if not retake_failed and notification_id in self.claims:
            return self.claims.pop(notification_id)
        return await self.ledger.claim(notification_id, retake_failed=retake_failed)

    async def claim_many(self, notification_ids: Sequence[str]) -> dict[str, LedgerEntry | None]:
        return await self.ledger.claim_many(notification_ids)

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        await self.ledger.mark_sent(notification_id, message_id)

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        await self.ledger.mark_failed(notification_id, reason)

    async def release(self, notification_id: str) -> None:
        await self.ledger.release(notification_id)


@dataclass
class PrefetchedLocales:
    locales: dict[str, str]
    """The batch's requests' languages: remembered by it, or read for it."""
    asked: frozenset[str]
    """Every ticket id the batch read or wrote: one missing from `locales` is unknown."""
    store: RequestLocales

    async def remember(self, locales: Mapping[str, str]) -> None:
        fresh = {t: loc for t, loc in locales.items() if self.locales.get(t) != loc}
        if fresh:
            await self.store.remember(fresh)
            self.locales.update(fresh)

    async def get_many(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        unknown = [t for t in ticket_ids if t not in self.asked]
        found = await self.store.get_many(unknown) if unknown else {}
        return {t: self.locales[t] for t in ticket_ids if t in self.locales} | found
