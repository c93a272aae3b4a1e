"""Reading a request's stored files: its owner and agents only; anyone else reads as missing."""

from __future__ import annotations

from dataclasses import dataclass

from intake.domain.access import may_read_ticket_files
from intake.ports import AttachmentStore, StoredAttachment, TicketStore
from intake.service.errors import AttachmentNotFoundError


@dataclass
class Attachments:
    store: TicketStore
    files: AttachmentStore

    async def open(
        self, ticket_id: str, attachment_id: str, *, reader_id: str, role: str
    ) -> StoredAttachment:
        ticket = await self.store.get(ticket_id)
        if ticket is None or not may_read_ticket_files(role, reader_id, ticket.account_id):
            raise AttachmentNotFoundError(attachment_id)
        stored = await self.files.open(ticket_id, attachment_id)
        if stored is None:
            raise AttachmentNotFoundError(attachment_id)
        return stored
