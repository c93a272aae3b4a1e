from __future__ import annotations

from faststream.kafka import KafkaBroker

from notifier.domain.plan import MailSource
from shared.contracts.events import AccountRecoveryRequested
from shared.contracts.topics import Topics
from shared.kafka.dead_letters import send_to_dead_letter
from shared.kafka.publishing import event_headers, event_key


class KafkaFailedDeliveries:
    def __init__(self, broker: KafkaBroker, topics: Topics, service: str) -> None:
        self._broker = broker
        self._topics = topics
        self._service = service

    async def dead_letter(self, source: MailSource, error: str, attempts: int) -> None:
        if isinstance(source, AccountRecoveryRequested):
            topic = self._topics.recovery
        else:
            topic = self._topics.for_event_type(source.event_type)
        await send_to_dead_letter(
            self._broker,
            topic=topic,
            key=event_key(source).encode(),
            value=source.model_dump_json().encode(),
            headers=event_headers(source),
            error=RuntimeError(error),
            service=self._service,
            attempts=attempts,
            source={"topic": topic, "partition": None, "offset": None},
        )
