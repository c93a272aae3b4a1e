"""The intake's mail receiver, its own process: `uvicorn intake.mail_app:create_app --factory`.

The organisation's MTA (or inbound-mail provider) relays `*@<reply domain>` to its SMTP port
(INTAKE_MAIL_PORT, 2525); its HTTP port serves /healthz, /readyz and /metrics. It writes
through the same use cases as the HTTP API (intake.wiring), so a customer's e-mail answer is
the same event as a comment on the web.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream_fastapi import FastStreamAPI

from intake.adapters.smtp_server import ReplyHandler, serve_smtp
from intake.app import declare_publishers
from intake.service.inbound import InboundMail, Verdict
from intake.settings import IntakeSettings
from intake.wiring import wire
from shared.http.app import ServiceApp, build_app, kafka_is_ready
from shared.kafka.broker import create_broker
from shared.metrics import ServiceMetrics
from shared.mongo import create_mongo_client, mongo_is_ready

SERVICE = "intake-mail"


def create_app() -> FastStreamAPI:
    return build(IntakeSettings()).asgi


def build(settings: IntakeSettings) -> ServiceApp:
    mongo = create_mongo_client(settings, SERVICE)
    metrics = ServiceMetrics(SERVICE)
    inbound = metrics.counter(
        "helpdesk_inbound_mail_total",
        "E-mails to reply addresses, by verdict (added, dropped, refused) and reason",
        ("verdict", "reason"),
    )
    broker = create_broker(
        settings,
        SERVICE,
        description="Customers' e-mail answers to their requests",
        metrics=metrics,
    )
    declare_publishers(broker, settings)
    wired = wire(settings, mongo, broker)
    receiver = InboundMail(
        store=wired.tickets,
        directory=wired.directory,
        customers=wired.customers,
        activity=wired.activity,
        limits=wired.limits,
        require_authentication=settings.mail_require_authentication,
        trusted_servers=frozenset(s.lower() for s in settings.mail_trusted_servers),
        # reasons are a fixed set of codes; "automatic: ..." is cut to its kind
        on_outcome=lambda verdict, reason: inbound.labels(
            verdict.value, reason.split(":")[0] if verdict is not Verdict.ADDED else ""
        ).inc(),
    )
    handler = ReplyHandler(receiver, settings.reply_key, settings.reply_domain)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await wired.ensure_indexes()
        server = await serve_smtp(
            handler, settings.mail_host, settings.mail_port, max_bytes=settings.mail_max_bytes
        )
        try:
            yield
        finally:
            server.close()
            await asyncio.wait_for(server.wait_closed(), 10)
            await wired.delivery.flush()
            await mongo.close()

    built = build_app(
        service=SERVICE,
        title="Help Centre mail receiver",
        description="Customers answer their requests by e-mail: the reply address's SMTP side.",
        settings=settings,
        broker=broker,
        lifespan=lifespan,
        readiness={"kafka": kafka_is_ready(broker), "mongo": lambda: mongo_is_ready(mongo)},
        metrics=metrics,
    )
    built.http.state.inbound = receiver
    return built
