"""Attachments in GridFS: the bytes stay out of band, events carry id + sha256 only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from uuid import uuid4

from gridfs import AsyncGridFSBucket, NoFile
from gridfs.asynchronous.grid_file import AsyncGridOut

from intake.domain.attachments import CheckedFile
from intake.ports import StoredAttachment
from shared.contracts.events import AttachmentRef


def new_attachment_id() -> str:
    return f"att-{uuid4().hex}"


class GridFSAttachmentStore:
    def __init__(self, bucket: AsyncGridFSBucket) -> None:
        self._bucket = bucket

    async def save(self, ticket_id: str, account_id: str, file: CheckedFile) -> AttachmentRef:
        attachment_id = new_attachment_id()
        file.content.seek(0)
        # On an error part-way GridFS aborts the upload and removes the chunks it wrote.
        await self._bucket.upload_from_stream_with_id(
            attachment_id,
            file.filename,
            file.content,
            metadata={
                "ticket_id": ticket_id,
                "account_id": account_id,
                "content_type": file.content_type,  # sniffed, never the declared one
                "sha256": file.sha256,
            },
        )
        return AttachmentRef(
            attachment_id=attachment_id,
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
        )

    async def delete(self, attachment_ids: Iterable[str]) -> None:
        for attachment_id in attachment_ids:
            with contextlib.suppress(NoFile):  # already gone: what we wanted
                await self._bucket.delete(attachment_id)

    async def open(self, ticket_id: str, attachment_id: str) -> StoredAttachment | None:
        cursor = self._bucket.find({"_id": attachment_id, "metadata.ticket_id": ticket_id})
        async for grid_out in cursor.limit(1):
            metadata = grid_out.metadata or {}
            ref = AttachmentRef(
                attachment_id=attachment_id,
                filename=grid_out.filename or attachment_id,
                content_type=metadata["content_type"],
                size=grid_out.length,
                sha256=metadata["sha256"],
            )
            return StoredAttachment(ref=ref, chunks=_chunks(grid_out))
        return None


async def _chunks(grid_out: AsyncGridOut) -> AsyncIterator[bytes]:
    """Stream chunk by chunk (255 KiB each), so serving a file never holds all of it."""
    while chunk := await grid_out.readchunk():
        yield chunk
