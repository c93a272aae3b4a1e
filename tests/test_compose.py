"""The compose deployment agrees with the code: docker-compose.yml and the Dockerfile are parsed
(no Docker needed) and every service's environment is checked against the Settings class that
reads it. A name the code does not read would be silently ignored (extra="ignore"), so a typo
in compose would fall back to a development default; these tests catch that.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from history.settings import HistorySettings
from intake.settings import IntakeSettings
from notifier.settings import NotifierSettings
from router.settings import RouterSettings
from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

TEST_JWT_SECRET = "compose-test-signing-key-" + "x" * 15  # 40 characters
TEST_METRICS_TOKEN = "compose-test-scrape-token-" + "y" * 14  # 40 characters
# uvicorn's h11 with a deadline on the request head (shared.http.server).
GUARDED_PROTOCOL = "shared.http.server:GuardedH11Protocol"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - inside a container: reachable from the network

INFRA = ("kafka", "mongo", "mailpit")


@dataclass(frozen=True)
class AppService:
    name: str
    settings: type[ServiceSettings]
    port: int
    uses_mongo: bool
    module: str = ""  # the app's module, when it is not <name>.app
    package: str = ""  # the workspace package it comes from, when it is not <name>

    @property
    def app(self) -> str:
        return f"{self.module or self.name + '.app'}:create_app"

    @property
    def prefix(self) -> str:
        prefix = self.settings.model_config.get("env_prefix")
        assert isinstance(prefix, str)
        return prefix


APP_SERVICES = (
    AppService("intake", IntakeSettings, 8001, uses_mongo=True),
    AppService("router", RouterSettings, 8002, uses_mongo=True),
    AppService("notifier", NotifierSettings, 8003, uses_mongo=True),
    AppService("history", HistorySettings, 8004, uses_mongo=True),
    AppService(
        "intake-mail",
        IntakeSettings,
        8005,
        uses_mongo=True,
        module="intake.mail_app",
        package="intake",
    ),
    AppService(
        "history-scheduler",
        HistorySettings,
        8006,
        uses_mongo=True,
        module="history.scheduler_app",
        package="history",
    ),
)
BY_NAME = {s.name: s for s in APP_SERVICES}
each_service = pytest.mark.parametrize("service", APP_SERVICES, ids=lambda s: s.name)

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# -- helpers ---------------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def services() -> dict[str, Any]:
    found = load_compose()["services"]
    assert isinstance(found, dict)
    return found


def environment(service: str) -> dict[str, str]:
    """A service's environment as compose would pass it: list or mapping form, values as text."""
    raw = services()[service].get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {key: _text(value) for key, value in raw.items()}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's variable substitution, for the forms this file uses."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = variables.get(name)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise LookupError(f"{name} is required: {arg}")
        if op in (":-", "-") and (current is None or (op == ":-" and current == "")):
            return arg
        return current or ""

    return VARIABLE.sub(substitute, value).replace("$$", "$")


def settings_env_names(settings: type[ServiceSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix") or ""
    return {f"{prefix}{field}".upper() for field in settings.model_fields}


def published_ports(service: str) -> set[tuple[int, int]]:
    pairs = set()
    for entry in services()[service].get("ports", []):
        if isinstance(entry, dict):
            pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def command_words(service: str) -> list[str]:
    command = services()[service]["command"]
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def env_instruction_values(arguments: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(arguments) if "=" in word)


# -- infrastructure --------------------------------------------------------------------------


def test_kafka_is_the_official_image_in_kraft_mode() -> None:
    kafka = services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = environment("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["CLUSTER_ID"]
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    # Topics come from `init` with their partition counts, never from a first publish.
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"  # one node


def test_mongo_and_mailpit_images() -> None:
    assert services()["mongo"]["image"].startswith("mongo:")
    assert services()["mailpit"]["image"].startswith("axllent/mailpit")
    assert "mongosh" in services()["mongo"]["healthcheck"]["test"]


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in services().items():
        if name == "init":
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        assert test != ["NONE"], name


@each_service
def test_service_healthcheck_asks_its_own_readyz(service: AppService) -> None:
    test = services()[service.name]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], "the image has no curl: python's urllib"
    assert f"http://127.0.0.1:{service.port}/readyz" in test[3]
    assert "urllib" in test[3]


# -- the one image ---------------------------------------------------------------------------


def test_init_and_the_four_services_build_from_the_one_dockerfile() -> None:
    built = {name: s for name, s in services().items() if "build" in s}
    assert set(built) == {"init", *BY_NAME}
    for name, service in built.items():
        build = service["build"]
        context, dockerfile = (
            (build, "Dockerfile")
            if isinstance(build, str)
            else (build["context"], build.get("dockerfile", "Dockerfile"))
        )
        assert (context, dockerfile) == (".", "Dockerfile"), name
    assert (ROOT / "Dockerfile").is_file()
    assert len({s.get("image") for s in built.values()}) == 1, "one image, one tag"


@each_service
def test_service_command_and_port(service: AppService) -> None:
    words = command_words(service.name)
    assert words[:2] == ["uvicorn", service.app]
    assert "--factory" in words
    assert words[words.index("--host") + 1] == ALL_INTERFACES
    assert int(words[words.index("--port") + 1]) == service.port
    assert words[words.index("--http") + 1] == GUARDED_PROTOCOL
    assert (service.port, service.port) in published_ports(service.name)
    env = environment(service.name)
    assert env.get(f"{service.prefix}PORT", str(service.port)) == str(service.port)
    assert env.get(f"{service.prefix}HOST", ALL_INTERFACES) == ALL_INTERFACES


def test_compose_and_the_devstack_serve_with_the_same_guarded_protocol(tmp_path: Path) -> None:
    import importlib

    from devstack.stack import EmbeddedStack, StackConfig
    from shared.http.server import GuardedH11Protocol

    module, _, name = GUARDED_PROTOCOL.partition(":")
    assert getattr(importlib.import_module(module), name) is GuardedH11Protocol
    for service in APP_SERVICES:
        argv = list(
            EmbeddedStack(StackConfig(data_dir=tmp_path)).service_process(service.name).argv
        )
        assert argv[argv.index("--http") + 1] == GUARDED_PROTOCOL, service.name


def test_restart_policies() -> None:
    for name in BY_NAME:
        assert services()[name]["restart"] == "unless-stopped", name
    assert services()["init"].get("restart", "no") == "no"


def test_init_creates_topics_and_seeds_the_directory() -> None:
    script = " ".join(command_words("init"))
    assert "shared.admin create-topics" in script
    assert "--replication 1" in script
    assert "shared.admin seed-directory" in script
    assert "&&" in script, "seeding only after the topics exist; a failure fails init"
    env = environment("init")
    resolved = interpolate(script, {}).replace("$KAFKA_BOOTSTRAP", env["KAFKA_BOOTSTRAP"])
    assert "--bootstrap-servers kafka:9092" in resolved.replace('"', "")


# -- start order -----------------------------------------------------------------------------


def test_init_waits_for_healthy_kafka_and_mongo() -> None:
    depends_on = services()["init"]["depends_on"]
    assert depends_on["kafka"]["condition"] == "service_healthy"
    assert depends_on["mongo"]["condition"] == "service_healthy"


@each_service
def test_service_waits_for_healthy_infrastructure_and_init(service: AppService) -> None:
    depends_on = services()[service.name]["depends_on"]
    assert isinstance(depends_on, dict), "long form: with conditions"
    assert depends_on["kafka"]["condition"] == "service_healthy"
    assert depends_on["init"]["condition"] == "service_completed_successfully"
    if service.uses_mongo:
        assert depends_on["mongo"]["condition"] == "service_healthy"
    if service.name == "notifier":
        assert depends_on["mailpit"]["condition"] == "service_healthy"
    for name, dependency in depends_on.items():
        assert dependency["condition"] in {"service_healthy", "service_completed_successfully"}, (
            name
        )


# -- environment against the Settings classes ------------------------------------------------


@each_service
def test_every_environment_variable_is_a_setting_the_service_reads(service: AppService) -> None:
    known = settings_env_names(service.settings)
    unknown = set(environment(service.name)) - known
    assert not unknown, f"{service.name} reads none of {sorted(unknown)}; it reads {sorted(known)}"


@each_service
def test_required_settings_are_set(service: AppService) -> None:
    env = environment(service.name)
    p = service.prefix
    assert env[f"{p}ENVIRONMENT"] == "production"
    assert env[f"{p}KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env[f"{p}KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert env[f"{p}HOST"] == ALL_INTERFACES
    assert f"{p}JWT_SECRET" in env
    assert f"{p}METRICS_TOKEN" in env, "production refuses to serve /metrics without it"
    if service.uses_mongo:
        assert env[f"{p}MONGO_URL"].startswith("mongodb://mongo:27017")
    if service.name in ("intake", "intake-mail", "notifier"):
        assert (
            env[f"{p}RECOVERY_SECRET"]
            == "${HELPDESK_RECOVERY_SECRET:?set HELPDESK_RECOVERY_SECRET (32+ chars)}"
        )
    if service.name in ("intake", "router"):
        assert env[f"{p}CLASSIFY_TOKEN"].startswith("${HELPDESK_CLASSIFY_TOKEN:?")
    if service.name == "intake":
        assert env["INTAKE_ROUTER_URL"] == "http://router:8002"
    if service.name == "history":
        assert env["HISTORY_INTAKE_URL"] == "http://intake:8001"
        assert env["HISTORY_PAGE_SECRET"].startswith("${HELPDESK_PAGE_SECRET:?")
    if service.name == "notifier":
        assert env["NOTIFIER_SMTP_HOST"] == "mailpit"
        assert env["NOTIFIER_SMTP_PORT"] == "1025"
        assert env["NOTIFIER_PUBLIC_BASE_URL"]


def test_no_secret_is_written_into_compose() -> None:
    text = COMPOSE_FILE.read_text()
    assert DEVELOPMENT_JWT_SECRET not in text
    for name in ("init", *BY_NAME):
        for key, value in environment(name).items():
            if any(word in key for word in ("SECRET", "PASSWORD", "TOKEN", "KEY")):
                # ${VAR:?message}: no default to fall back on; compose refuses to start without it
                match = VARIABLE.fullmatch(value)
                assert match, f"{name}: {key} is written in the file"
                assert match["op"] == ":?", f"{name}: {key} must be required, without a default"
    for service in APP_SERVICES:
        secret = environment(service.name)[f"{service.prefix}JWT_SECRET"]
        match = VARIABLE.fullmatch(secret)
        assert match
        assert match["name"] == "HELPDESK_JWT_SECRET"
        with pytest.raises(LookupError):
            interpolate(secret, {})
        token = VARIABLE.fullmatch(environment(service.name)[f"{service.prefix}METRICS_TOKEN"])
        assert token
        assert token["name"] == "HELPDESK_METRICS_TOKEN"


@each_service
def test_compose_environment_validates_as_production_settings(
    service: AppService, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith(service.prefix):
            monkeypatch.delenv(key)
    variables = {
        "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
        "HELPDESK_METRICS_TOKEN": TEST_METRICS_TOKEN,
        "HELPDESK_REPLY_SECRET": "r" * 40,
        "HELPDESK_RECOVERY_SECRET": "s" * 40,
        "HELPDESK_CLASSIFY_TOKEN": "c" * 40,
        "HELPDESK_PAGE_SECRET": "p" * 40,
    }
    for key, value in environment(service.name).items():
        monkeypatch.setenv(key, interpolate(value, variables))

    assert len(TEST_JWT_SECRET) == 40
    settings = service.settings()

    assert settings.environment == "production"
    assert settings.jwt_verification_key == TEST_JWT_SECRET
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.kafka_enable_idempotence is True
    assert settings.port == service.port
    assert settings.effective_log_format == "json"
    assert settings.metrics_enabled
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == TEST_METRICS_TOKEN
    if service.uses_mongo:
        assert settings.mongo_url.get_secret_value().startswith("mongodb://mongo:27017")


# -- the Dockerfile --------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_from_python_slim() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    args = {
        key: value
        for keyword, arguments in dockerfile_instructions()
        if keyword == "ARG" and "=" in arguments
        for key, value in [arguments.split("=", 1)]
    }
    for stage in stages:
        image = stage[0][1].split()[0]
        image = interpolate(image, args)
        assert image.startswith("python:3.11-slim"), image


def test_dockerfile_installs_the_services_without_dev_or_devstack() -> None:
    runs = [args for keyword, args in dockerfile_stages()[0] if keyword == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync
        assert "--no-editable" in sync
        assert "--all-packages" not in sync
        assert "devstack" not in sync
        for service in APP_SERVICES:
            assert f"--package {service.package or service.name}" in sync
    assert any("router.classifier.train" in run for run in runs)


def test_dockerfile_final_stage_runs_as_non_root_with_the_model() -> None:
    final = dockerfile_stages()[-1]
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "the final stage must switch user"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    env: dict[str, str] = {}
    for keyword, arguments in final:
        if keyword == "ENV":
            env |= env_instruction_values(arguments)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert "/app/.venv/bin" in env["PATH"]
    # The packaged settings' relative default points into site-packages: set it explicitly.
    assert "ROUTER_MODEL_PATH" in settings_env_names(RouterSettings)
    model_path = env["ROUTER_MODEL_PATH"]
    copies = [args for keyword, args in final if keyword == "COPY" and "--from=" in args]
    assert any(args.split()[-1] == model_path for args in copies), "the trained model is copied"
    for key in env:
        assert not any(word in key for word in ("SECRET", "PASSWORD", "TOKEN")), key


def test_dockerignore_keeps_the_local_environment_out() -> None:
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "allow-list: nothing enters the context unless named"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    assert {"pyproject.toml", "uv.lock", "shared/", "services/"} <= allowed
    assert not any(a.startswith((".env", ".git", ".venv", ".data")) for a in allowed)


# -- operations: Prometheus and Grafana ------------------------------------------------------

DEPLOY = ROOT / "deploy"
METRICS_SECRET = "metrics_token"
METRIC_NAME = re.compile(r"\b(?:faststream|helpdesk|process)_[a-z_]+\b")


def mounts(service: str) -> dict[str, str]:
    """Bind mounts of a service: container path -> host path (relative to the compose file)."""
    found = {}
    for volume in services()[service].get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("./"):
            found[target] = source[2:]
    return found


def prometheus_config() -> dict[str, Any]:
    words = command_words("prometheus")
    config_path = next(w.split("=", 1)[1] for w in words if w.startswith("--config.file="))
    host_path = mounts("prometheus")[config_path]
    document = yaml.safe_load((ROOT / host_path).read_text())
    assert isinstance(document, dict)
    return document


def registered_metric_names() -> set[str]:
    """Every sample name a service can expose: the shared registry (FastStream's middleware,
    lag, dead letters, HTTP, process) and the counters the services register themselves."""
    from shared.metrics import ServiceMetrics

    names = set()
    for family in ServiceMetrics("compose-test").registry.collect():
        names |= {family.name + suffix for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    apps = ("intake/app", "router/app", "notifier/app", "history/scheduler_app")
    for app in apps:
        service = app.split("/")[0]
        source = (ROOT / "services" / service / "src" / f"{app}.py").read_text()
        for name in re.findall(r'"(helpdesk_[a-z_]+)"', source):
            names |= {name + suffix for suffix in ("", "_bucket", "_count", "_sum")}
    return names


def test_prometheus_scrapes_every_replica_of_every_service() -> None:
    assert services()["prometheus"]["image"].startswith("prom/prometheus:")
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    for service in APP_SERVICES:
        job = jobs[service.name]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        # DNS discovery: `docker compose up --scale router=2` gives one target per replica.
        (discovery,) = job["dns_sd_configs"]
        assert discovery["names"] == [service.name]
        assert discovery["type"] == "A"
        assert int(discovery["port"]) == service.port
        # /metrics wants the scrape token: the secret compose makes of HELPDESK_METRICS_TOKEN,
        # the variable every service's METRICS_TOKEN comes from.
        assert job["authorization"] == {
            "type": "Bearer",
            "credentials_file": f"/run/secrets/{METRICS_SECRET}",
        }
    assert METRICS_SECRET in services()["prometheus"]["secrets"]
    assert load_compose()["secrets"][METRICS_SECRET] == {"environment": "HELPDESK_METRICS_TOKEN"}


def test_grafana_provisions_prometheus_and_the_dashboard() -> None:
    grafana = services()["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    provisioning = ROOT / mounts("grafana")["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "helpdesk.yml").read_text())[
        "providers"
    ]
    dashboards_dir = provider["options"]["path"]
    assert (ROOT / mounts("grafana")[dashboards_dir] / "helpdesk.json").is_file()
    password = environment("grafana")["GF_SECURITY_ADMIN_PASSWORD"]
    match = VARIABLE.fullmatch(password)
    assert match, "the admin password is not written into the file"
    assert match["op"] == ":?"


def test_dashboard_queries_only_series_the_services_expose() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "helpdesk.json").read_text())
    known = registered_metric_names()
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert used, "the dashboard queries something"
    assert used <= known, f"not exposed by any service: {sorted(used - known)}"
    # What an operator needs on one screen.
    for needed in (
        "faststream_received_messages_total",
        "faststream_published_messages_total",
        "faststream_received_processed_messages_duration_seconds_bucket",
        "helpdesk_consumer_lag",
        "helpdesk_dead_letters_total",
        "helpdesk_routing_decisions_total",
        "helpdesk_emails_total",
        "process_resident_memory_bytes",
        # The misrouting delay, the product's headline number in production.
        "helpdesk_transfers_total",
        "helpdesk_misroute_delay_seconds_bucket",
        "helpdesk_solved_total",
        "helpdesk_first_reply_seconds_bucket",
        # Time rules: what the teams are alerted to, and whether the scheduler keeps up.
        "helpdesk_sla_alerts_total",
        "helpdesk_automations_total",
        "helpdesk_timer_lag_seconds_bucket",
    ):
        assert needed in used, needed
