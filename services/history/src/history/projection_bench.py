"""The projection's own cost, without its store: what the history consumer does per event
besides talking to MongoDB (decode the record, fold the event into its request's view, build
the document to write). `make bench` prints it next to the live rate, so the gap between them
is the store's share.

    uv run python -m history.projection_bench [--tickets 2000]

Each ticket gets the three events the bench's kafka phase produces for it: submitted, routed
and the acknowledgement's NotificationSent.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from history.adapters.mongo import to_document
from history.domain.projection import RequestView, apply
from shared.contracts.events import (
    NotificationKind,
    NotificationSent,
    TicketRouted,
    TicketSubmitted,
    any_event_adapter,
    derived_event_id,
    new_ticket_id,
)


def sample_records(tickets: int) -> list[bytes]:
    """Three events per ticket as JSON records, in the order a consumer meets them."""
    records: list[bytes] = []
    for i in range(tickets):
        envelope = {
            "ticket_id": new_ticket_id(),
            "account_id": f"acc-{i % 50}",
            "correlation_id": f"projection-bench-{i}",
        }
        submitted = TicketSubmitted(
            **envelope,
            category="cards",
            subject=f"My card has not arrived #{i}",
            description="I ordered a card three weeks ago and it has still not arrived.",
        )
        routed = TicketRouted(
            **envelope,
            event_id=derived_event_id(submitted.event_id, "routed"),
            team="cards",
            intent="card_arrival",
            confidence=0.98,
            customer_category="cards",
            customer_team="cards",
            reason="customer_category",
            model_version="projection-bench",
        )
        sent = NotificationSent(
            **envelope,
            event_id=derived_event_id(submitted.event_id, "sent"),
            notification_id=f"{submitted.event_id}:acknowledgement",
            kind=NotificationKind.ACKNOWLEDGEMENT,
            source_event_id=submitted.event_id,
            message_id=f"<{submitted.event_id}@bench>",
        )
        records += [e.model_dump_json().encode() for e in (submitted, routed, sent)]
    return records


def events_per_second(records: Sequence[bytes]) -> float:
    """Decode, fold and build the document for every record, as one consumer would."""
    views: dict[str, RequestView] = {}
    started = time.perf_counter()
    for record in records:
        event = any_event_adapter.validate_json(record)
        updated = apply(views.get(event.ticket_id), event)
        if updated is not None:
            views[event.ticket_id] = updated
            to_document(updated)
    return len(records) / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    args = parser.parse_args(argv)
    records = sample_records(args.tickets)
    rate = events_per_second(records)
    print(json.dumps({"events": len(records), "events_per_s": round(rate, 1)}))


if __name__ == "__main__":
    main()
