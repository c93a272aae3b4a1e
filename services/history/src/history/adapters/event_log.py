"""Reading the event topics as a log, for a replay: a consumer with no group (it commits
nothing and disturbs no live consumer), every partition assigned, read between offsets
captured beforehand, so a replay has a defined end while producers keep writing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka.records import InboundRecord

Offsets = dict[TopicPartition, int]


class KafkaEventLog:
    def __init__(self, bootstrap_servers: str, *, max_records: int = 500) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
        )

    async def __aenter__(self) -> KafkaEventLog:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        await self._consumer.topics()  # refresh the metadata
        found = []
        for topic in topics:
            for partition in sorted(self._consumer.partitions_for_topic(topic) or ()):
                found.append(TopicPartition(topic, partition))
        return found

    async def beginnings(self, partitions: Sequence[TopicPartition]) -> Offsets:
        offsets: Offsets = await self._consumer.beginning_offsets(list(partitions))
        return offsets

    async def ends(self, partitions: Sequence[TopicPartition]) -> Offsets:
        offsets: Offsets = await self._consumer.end_offsets(list(partitions))
        return offsets

    async def read(self, start: Offsets, end: Offsets) -> AsyncIterator[list[InboundRecord]]:
        """Batches of the records in [start, end) of each partition, in partition order."""
        todo = {tp for tp, offset in end.items() if offset > start.get(tp, 0)}
        if not todo:
            return
        self._consumer.assign(sorted(todo))
        for tp in todo:
            self._consumer.seek(tp, start.get(tp, 0))
        while todo:
            batches = await self._consumer.getmany(*todo, timeout_ms=1000)
            records: list[InboundRecord] = []
            for tp, batch in batches.items():
                records += [
                    InboundRecord.from_consumer_record(r) for r in batch if r.offset < end[tp]
                ]
            for tp in list(todo):
                if await self._consumer.position(tp) >= end[tp]:
                    todo.discard(tp)
            if records:
                yield records
