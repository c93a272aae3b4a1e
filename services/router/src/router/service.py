"""Routing a batch of submitted requests: decode each, classify all at once, decide each,
forward to the team topic and announce on tickets.routed. And the same decision for one request
still being written (POST /v1/classify), with its category suggestions, published nowhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from pydantic import TypeAdapter

from router.classifier.types import Prediction, TeamClassifier
from router.domain.classification import classify
from router.domain.routing import (
    NO_MODEL_VERSION,
    RoutingPolicy,
    request_text,
    route,
    ticket_text,
)
from router.ports import AccountDirectory, EventPublisher, LanguageOf
from shared.contracts.classification import Classification, ClassifyRequest
from shared.contracts.events import (
    Envelope,
    RoutingDecision,
    TicketAssigned,
    TicketRouted,
    TicketSubmitted,
    derived_event_id,
)
from shared.contracts.topics import Topics
from shared.kafka.records import DeadLetterSink, InboundRecord, decode_batch
from shared.logging import get_logger

log = get_logger(__name__)
_SUBMITTED: TypeAdapter[TicketSubmitted] = TypeAdapter(TicketSubmitted)


@dataclass(frozen=True)
class RoutedBatch:
    """A batch's decisions, their events handed to the producer, and the broker's
    acknowledgement of every one of them (the batch may be committed once it completes)."""

    decisions: list[RoutingDecision]
    acknowledged: Awaitable[None]


async def _nothing() -> None:
    return None


@dataclass
class RoutingService:
    policy: RoutingPolicy
    classifier: TeamClassifier | None
    topics: Topics
    publisher: EventPublisher
    dead_letters: DeadLetterSink
    # The account kinds (corporate accounts are exempt from the several-accounts rule).
    directory: AccountDirectory | None = None
    directory_timeout_seconds: float = 1.0
    classify_directory_timeout_seconds: float = 0.2
    """A customer is typing: the suggestion does not wait long for the account's kind."""
    languages: LanguageOf | None = None
    """Detects each request's language (None: not detected, every text read as the model's)."""

    def _language(self, text: str) -> str | None:
        return self.languages.language_of(text) if self.languages else None

    @property
    def model_version(self) -> str:
        return self.classifier.version if self.classifier else NO_MODEL_VERSION

    async def route_batch(self, records: Sequence[InboundRecord]) -> list[RoutingDecision]:
        """Route the batch and return once the broker acknowledged all it published."""
        routed = await self.dispatch_batch(records)
        await routed.acknowledged
        return routed.decisions

    async def dispatch_batch(self, records: Sequence[InboundRecord]) -> RoutedBatch:
        """Route the batch and return once its events are handed to the producer, with their
        acknowledgement: the consumer reads the next batch meanwhile (pipelining)."""
        tickets: list[TicketSubmitted] = await decode_batch(records, _SUBMITTED, self.dead_letters)
        if not tickets:
            return RoutedBatch([], _nothing())
        predictions = await self._classify(tickets)
        kinds = await self._account_kinds(tickets)
        decisions = [
            route(
                t,
                p,
                self.policy,
                model_version=self.model_version,
                account_kind=kinds.get(t.account_id),
                language=self._language(ticket_text(t)),
            )
            for t, p in zip(tickets, predictions, strict=True)
        ]
        outgoing: list[tuple[str, Envelope]] = []
        for ticket, decision in zip(tickets, decisions, strict=True):
            outgoing += self._events(ticket, decision)
            log.info(
                "ticket routed",
                ticket_id=ticket.ticket_id,
                event_id=str(ticket.event_id),
                correlation_id=ticket.correlation_id,
                team=decision.team,
                reason=decision.reason,
                rerouted_from=decision.rerouted_from,
                language=decision.language,
                confidence=round(decision.confidence, 3),
            )
        acknowledged = await self.publisher.send_many(outgoing)
        return RoutedBatch(decisions, acknowledged)

    async def classify(self, request: ClassifyRequest) -> Classification:
        """What routing would do with this request now, and its likely categories. The
        account's kind (for exemptions) is looked up while the model reads the text."""
        kinds = asyncio.create_task(
            self._kinds_of(
                [request.account_id] if request.account_id else [],
                self.classify_directory_timeout_seconds,
            )
        )
        text = request_text(request.subject, request.description)
        try:
            (prediction,) = await self._predict([text])
        except BaseException:
            kinds.cancel()
            raise
        kind = (await kinds).get(request.account_id or "")
        return classify(
            request,
            prediction,
            self.policy,
            model_version=self.model_version,
            account_kind=kind,
            language=self._language(text),
        )

    async def _account_kinds(self, tickets: Sequence[TicketSubmitted]) -> dict[str, str]:
        """One directory query per batch. Routing does not wait on the directory: when it does
        not answer in time the batch is routed without kinds (no exemption applies), which
        costs a corporate account a line of guidance, never a request."""
        accounts = sorted({t.account_id for t in tickets})
        return await self._kinds_of(accounts, self.directory_timeout_seconds)

    async def _kinds_of(self, accounts: Sequence[str], timeout: float) -> dict[str, str]:
        if self.directory is None or not accounts:
            return {}
        try:
            async with asyncio.timeout(timeout):
                found = await self.directory.get_many(accounts)
        except Exception as exc:
            log.warning(
                "account directory unavailable; routing without account kinds", error=repr(exc)
            )
            return {}
        return {account: record.kind for account, record in found.items() if record}

    async def _classify(self, tickets: list[TicketSubmitted]) -> list[Prediction | None]:
        return await self._predict([ticket_text(t) for t in tickets])

    async def _predict(self, texts: list[str]) -> list[Prediction | None]:
        if self.classifier is None:
            return [None] * len(texts)
        # CPU-bound: off the event loop, so heartbeats and /readyz keep answering.
        predictions = await asyncio.to_thread(self.classifier.predict, texts)
        return list(predictions)

    def _events(
        self, ticket: TicketSubmitted, decision: RoutingDecision
    ) -> list[tuple[str, Envelope]]:
        envelope = {
            "ticket_id": ticket.ticket_id,
            "account_id": ticket.account_id,
            "correlation_id": ticket.correlation_id,
        }
        fields = decision.model_dump()
        routed = TicketRouted(
            event_id=derived_event_id(ticket.event_id, "routed"), **envelope, **fields
        )
        assigned = TicketAssigned(
            event_id=derived_event_id(ticket.event_id, "assigned"),
            **envelope,
            **fields,
            subject=ticket.subject,
            description=ticket.description,
            attachments=ticket.attachments,
            submitted_at=ticket.occurred_at,
        )
        return [(self.topics.team(decision.team), assigned), (self.topics.routed, routed)]
