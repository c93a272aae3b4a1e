"""The Kubernetes manifests (deploy/k8s) agree with Kubernetes and with the code, offline.

Each kustomization (the base and the production overlay) is rendered by a real kustomize,
kubectl's built-in one (`make kubectl` provides kubectl where the machine has none), and every
rendered object is validated against the Kubernetes JSON schemas that the kubernetes-validate
wheel bundles (strict: an unknown field fails). Then the checks Kubernetes cannot make: each
Deployment runs the process docker-compose.yml runs, with both probes, requests and limits, a
restricted security context and a PodDisruptionBudget; every environment variable is a
setting its Settings class reads, every secret setting comes from the external Secret and
none is committed; an HPA on consumer lag never scales a consumer past the partitions of the
topics it reads (shared.kafka.admin); and the production environment validates as production
settings. The last tests break a copy of the base and see each check fail.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import SecretStr

from history.settings import HistorySettings
from intake.settings import IntakeSettings
from notifier.settings import NotifierSettings
from router.settings import RouterSettings
from shared.contracts.topics import Topics
from shared.kafka.admin import topic_plan
from shared.settings import (
    DEVELOPMENT_CLASSIFY_TOKEN,
    DEVELOPMENT_JWT_SECRET,
    DEVELOPMENT_RECOVERY_SECRET,
    DEVELOPMENT_REPLY_SECRET,
    ServiceSettings,
)

pytestmark = pytest.mark.unit

Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATIONS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
# The oldest Kubernetes these manifests claim, and the newest the wheel knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())

SECRET_NAME = "helpdesk-secrets"  # created outside the repository (deploy/k8s/README.md)
CONFIG_NAME = "helpdesk-config"
PRODUCTION_NAMESPACE = "helpdesk"
GUARDED_PROTOCOL = "shared.http.server:GuardedH11Protocol"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - inside a pod: reachable from the network
LAG_METRIC = "kafka_consumergroup_lag"  # kafka-exporter's, through prometheus-adapter
BROKER_DRAIN_SECONDS = 30  # shared.kafka.broker: graceful_timeout
TMP = "/tmp"  # noqa: S108 - the pods' writable emptyDir under a read-only root

TOPICS = Topics()
PARTITIONS = topic_plan(TOPICS, teams=())
# The router's group, unless ROUTER_GROUP_ID (which no manifest sets) names another.
_ROUTER_GROUP = RouterSettings.model_fields.get("group_id")
ROUTER_GROUP = str(_ROUTER_GROUP.default) if _ROUTER_GROUP else "router"


@dataclass(frozen=True)
class Process:
    name: str
    settings: type[ServiceSettings]
    module: str
    port: int
    # Consumer group -> the topics it reads (each app's batch_subscriber calls).
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    service_ports: tuple[str, ...] = ()  # the named ports its Service exposes, if it serves
    autoscaled: bool = False
    extra_env: frozenset[str] = frozenset()  # names that are not its settings'

    @property
    def prefix(self) -> str:
        prefix = self.settings.model_config.get("env_prefix")
        assert isinstance(prefix, str)
        return prefix


PROCESSES = (
    Process(
        "intake",
        IntakeSettings,
        "intake.app",
        8001,
        groups={"intake": (TOPICS.routed, TOPICS.sla)},
        service_ports=("http",),
        autoscaled=True,
        extra_env=frozenset({"FORWARDED_ALLOW_IPS"}),  # uvicorn's --forwarded-allow-ips
    ),
    Process("intake-mail", IntakeSettings, "intake.mail_app", 8005, service_ports=("smtp",)),
    Process(
        "router",
        RouterSettings,
        "router.app",
        8002,
        groups={ROUTER_GROUP: (TOPICS.submitted,), f"{ROUTER_GROUP}-handover": (TOPICS.activity,)},
        service_ports=("http",),
        autoscaled=True,
    ),
    Process(
        "notifier",
        NotifierSettings,
        "notifier.app",
        8003,
        groups={"notifier": (TOPICS.submitted, TOPICS.routed, TOPICS.activity, TOPICS.recovery)},
        autoscaled=True,
    ),
    Process(
        "history",
        HistorySettings,
        "history.app",
        8004,
        groups={"history": TOPICS.event_topics()},
        service_ports=("http",),
        autoscaled=True,
    ),
    Process("history-scheduler", HistorySettings, "history.scheduler_app", 8006),
)
BY_NAME = {p.name: p for p in PROCESSES}
each_process = pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
each_kustomization = pytest.mark.parametrize("kustomization", sorted(KUSTOMIZATIONS))


# -- rendering -------------------------------------------------------------------------------


def renderer() -> list[str]:
    """kubectl's built-in kustomize (the machine image ships kubectl; `make kubectl` puts one
    into .venv/bin elsewhere), or a standalone kustomize."""
    for kubectl in (shutil.which("kubectl"), ROOT / ".venv" / "bin" / "kubectl"):
        if kubectl and Path(kubectl).is_file():
            return [str(kubectl), "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    pytest.fail("no kustomize renderer: run `make kubectl` (make test does)")


def render(directory: Path) -> list[Obj]:
    done = subprocess.run(
        [*renderer(), str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},  # rendering needs no cluster
    )
    assert done.returncode == 0, f"kustomize failed on {directory}:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@functools.cache
def rendered(kustomization: str) -> tuple[Obj, ...]:
    return tuple(render(KUSTOMIZATIONS[kustomization]))


def of_kind(objects: Iterable[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    found = containers[0]
    assert isinstance(found, dict)
    return found


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


QUANTITY = re.compile(r"^(?P<number>[0-9.]+)(?P<unit>m|Ki|Mi|Gi|k|M|G)?$")
UNITS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(text: object) -> float:
    match = QUANTITY.match(str(text))
    assert match, f"not a quantity: {text}"
    return float(match["number"]) * UNITS[match["unit"]]


# -- the checks (each returns what is wrong; the last tests break a copy to see them fail) ----


def schema_problems(objects: Iterable[Obj], version: str) -> list[str]:
    problems = []
    for obj in objects:
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.utils.ValidationError as error:
            where = "/".join(str(p) for p in error.path)
            problems.append(f"{name} at {where}: {error.message}")
        except kubernetes_validate.utils.SchemaNotFoundError as error:
            problems.append(f"{name}: {error.message}")
    return problems


def deployment_problems(objects: Iterable[Obj]) -> list[str]:
    """Each Deployment runs its process as compose does, probed, sized and locked down."""
    deployments = of_kind(objects, "Deployment")
    problems = []
    if set(deployments) != set(BY_NAME):
        problems.append(f"Deployments {sorted(deployments)} are not {sorted(BY_NAME)}")
    for name, deployment in deployments.items():
        process = BY_NAME.get(name)
        if process is None:
            continue
        pod = deployment["spec"]["template"]["spec"]
        main = container(deployment)

        def wrong(what: str, name: str = name) -> None:
            problems.append(f"{name}: {what}")

        command = [*main.get("command", []), *main.get("args", [])]
        expected = [f"uvicorn {process.module}:create_app --factory --host {ALL_INTERFACES}"]
        expected.append(f"--port {process.port} --http {GUARDED_PROTOCOL}")
        if " ".join(command) != " ".join(expected):
            wrong(f"runs {command}, not {' '.join(expected)}")
        ports = {p.get("name"): p["containerPort"] for p in main.get("ports", [])}
        if ports.get("http") != process.port:
            wrong(f"its port `http` is {ports.get('http')}, not {process.port}")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = main.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") not in ("http", process.port):
                wrong(f"{probe} is not GET {path} on its http port")
        resources = main.get("resources", {})
        requests, limits = resources.get("requests", {}), resources.get("limits", {})
        if not {"cpu", "memory"} <= set(requests):
            wrong("requests no cpu and memory")
        elif "memory" not in limits:
            wrong("has no memory limit")
        elif quantity(limits["memory"]) < quantity(requests["memory"]) * 1.5:
            wrong("leaves its memory limit less than half again its request")
        security = main.get("securityContext", {})
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            wrong("may run as root")
        if security.get("allowPrivilegeEscalation") is not False:
            wrong("allows privilege escalation")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            wrong("keeps capabilities")
        if security.get("readOnlyRootFilesystem") is not True:
            wrong("has a writable root filesystem")
        mounts = {m["mountPath"]: m["name"] for m in main.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        if "emptyDir" not in volumes.get(mounts.get(TMP, ""), {}):
            wrong("has no emptyDir at /tmp (spooled uploads, tempfile)")
        if pod.get("automountServiceAccountToken") is not False:
            wrong("mounts a service-account token it never uses")
        if pod.get("enableServiceLinks") is not False:
            # The `intake` Service would set INTAKE_PORT=tcp://..., which IntakeSettings reads.
            wrong("gets service links, which collide with the settings' names")
        if pod.get("terminationGracePeriodSeconds", 30) <= BROKER_DRAIN_SECONDS:
            wrong(f"is killed before the broker's {BROKER_DRAIN_SECONDS} s drain")
    return problems


def environment_problems(objects: Iterable[Obj]) -> list[str]:
    """Every name is a setting; secrets come from the Secret, the rest from the ConfigMap."""
    configmaps = of_kind(objects, "ConfigMap")
    problems = []
    for name, deployment in of_kind(objects, "Deployment").items():
        process = BY_NAME.get(name)
        if process is None:
            continue
        known = {f"{process.prefix}{f}".upper() for f in process.settings.model_fields}
        secret_settings = {
            f"{process.prefix}{f}".upper()
            for f, info in process.settings.model_fields.items()
            if "SecretStr" in str(info.annotation)
        }
        for var in container(deployment).get("env", []):
            key, source = var["name"], var.get("valueFrom", {})
            if key not in known | process.extra_env:
                problems.append(f"{name}: {key} is no setting of {process.settings.__name__}")
            if key in secret_settings and "secretKeyRef" not in source:
                problems.append(f"{name}: {key} is a secret, not from the Secret")
            if (ref := source.get("secretKeyRef")) and ref["name"] != SECRET_NAME:
                problems.append(f"{name}: {key} reads Secret {ref['name']}")
            if ref := source.get("configMapKeyRef"):
                data = configmaps.get(ref["name"], {}).get("data", {})
                if not ref["name"].startswith(CONFIG_NAME) or ref["key"] not in data:
                    problems.append(f"{name}: {key} reads {ref['name']}/{ref['key']}, absent")
        for source in container(deployment).get("envFrom", []):
            problems.append(f"{name}: envFrom {source} passes names nobody checks")
    return problems


def secret_problems(objects: Iterable[Obj]) -> list[str]:
    problems = [
        f"Secret {o['metadata']['name']} is in the manifests"
        for o in objects
        if o["kind"] == "Secret" or o["kind"].startswith("Sealed")
    ]
    for name, configmap in of_kind(objects, "ConfigMap").items():
        for key, value in configmap.get("data", {}).items():
            if re.search(r"SECRET|TOKEN|PASSWORD|MONGO_URL", key) or "mongodb" in str(value):
                problems.append(f"ConfigMap {name}: {key} belongs in the Secret")
    return problems


def disruption_problems(objects: Iterable[Obj]) -> list[str]:
    """One PodDisruptionBudget per Deployment, which a node drain can always satisfy."""
    budgets = of_kind(objects, "PodDisruptionBudget")
    problems = []
    for name, deployment in of_kind(objects, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [
            b
            for b in budgets.values()
            if selects(b["spec"]["selector"].get("matchLabels", {}), labels)
        ]
        if len(covering) != 1:
            problems.append(f"{name}: {len(covering)} PodDisruptionBudgets select its pods")
            continue
        spec = covering[0]["spec"]
        if "maxUnavailable" not in spec:
            problems.append(f"{name}: its budget is minAvailable, which blocks drains at 1 pod")
    return problems


def service_problems(objects: Iterable[Obj]) -> list[str]:
    deployments = of_kind(objects, "Deployment")
    services = of_kind(objects, "Service")
    problems = []
    for name, service in services.items():
        chosen = [
            d
            for d in deployments.values()
            if selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        if len(chosen) != 1:
            problems.append(f"Service {name} selects {len(chosen)} Deployments")
            continue
        named = {p.get("name") for p in container(chosen[0]).get("ports", [])}
        for port in service["spec"]["ports"]:
            if port["targetPort"] not in named:
                problems.append(f"Service {name}: targetPort {port['targetPort']} is no port")
    for process in PROCESSES:
        exposed = {
            p["name"] for p in services.get(process.name, {}).get("spec", {}).get("ports", [])
        }
        if exposed != set(process.service_ports):
            problems.append(f"{process.name}: Service ports {exposed}, not {process.service_ports}")
    return problems


def scaling_problems(objects: Iterable[Obj]) -> list[str]:
    """Consumers scale on their group's lag, never past the partitions of what they read."""
    deployments = of_kind(objects, "Deployment")
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler")
    problems = []
    targets = {}
    for name, hpa in autoscalers.items():
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] != "Deployment" or target["name"] not in deployments:
            problems.append(f"HPA {name} scales {target['kind']}/{target['name']}, absent")
            continue
        targets[target["name"]] = hpa
    for name, deployment in deployments.items():
        process = BY_NAME.get(name)
        if process is None:
            continue
        scaler = targets.get(name)
        if (scaler is not None) != process.autoscaled:
            problems.append(f"{name}: {'an' if scaler else 'no'} autoscaler")
        if scaler is None:
            if deployment["spec"].get("replicas", 1) < 2:
                problems.append(f"{name}: one replica, nothing to fail over to")
            continue
        if "replicas" in deployment["spec"]:
            problems.append(f"{name}: sets replicas, which every apply resets under its HPA")
        spec = scaler["spec"]
        if spec.get("minReplicas", 1) < 2:
            problems.append(f"{name}: its HPA may scale it to one replica")
        lag_metrics = [m for m in spec.get("metrics", []) if m["type"] == "External"]
        if process.groups and process.name != "intake" and not lag_metrics:
            problems.append(f"{name}: a consumer that does not scale on its lag")
        for metric in lag_metrics:
            selector = metric["external"]["metric"].get("selector", {}).get("matchLabels", {})
            group = selector.get("consumergroup")
            if metric["external"]["metric"]["name"] != LAG_METRIC or group not in process.groups:
                problems.append(f"{name}: scales on {metric}, not its group's lag")
                continue
            topics = (selector["topic"],) if "topic" in selector else process.groups[group]
            if not set(topics) <= set(process.groups[group]):
                problems.append(f"{name}: group {group} reads none of {topics}")
                continue
            bound = min(PARTITIONS[t] for t in topics)
            if spec["maxReplicas"] > bound:
                problems.append(
                    f"{name}: maxReplicas {spec['maxReplicas']} > {bound}, the partitions of"
                    f" {', '.join(topics)}: the replicas past them would sit idle"
                )
    return problems


def production_problems(objects: Iterable[Obj]) -> list[str]:
    problems = []
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] != "Namespace" and namespace != PRODUCTION_NAMESPACE:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} is in {namespace}")
    for name, deployment in of_kind(objects, "Deployment").items():
        image = container(deployment)["image"]
        if "/" not in image or ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
            problems.append(f"{name}: image {image} is no released tag of our registry")
    return problems


CHECKS: tuple[Callable[[Iterable[Obj]], list[str]], ...] = (
    deployment_problems,
    environment_problems,
    secret_problems,
    disruption_problems,
    service_problems,
    scaling_problems,
)


# -- the tests -------------------------------------------------------------------------------


@each_kustomization
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_kubernetes(kustomization: str, version: str) -> None:
    objects = rendered(kustomization)
    assert objects
    assert not schema_problems(objects, version)


@each_kustomization
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removesuffix("_problems"))
def test_manifests(kustomization: str, check: Callable[[Iterable[Obj]], list[str]]) -> None:
    assert not check(rendered(kustomization))


def test_production_overlay() -> None:
    assert not production_problems(rendered("production"))
    (config,) = of_kind(rendered("production"), "ConfigMap").values()
    assert config["data"]["ENVIRONMENT"] == "production"
    assert "localhost" not in config["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert all(u.startswith("https://") for k, u in config["data"].items() if k.endswith("_URL"))
    (base_config,) = of_kind(rendered("base"), "ConfigMap").values()
    assert base_config["data"]["ENVIRONMENT"] == "development", "production is the overlay's"


def environment(kustomization: str, process: Process) -> dict[str, str]:
    """A process's environment as the kubelet would set it, the Secret holding test values."""
    objects = rendered(kustomization)
    deployment = of_kind(objects, "Deployment")[process.name]
    configmaps = of_kind(objects, "ConfigMap")
    env = {}
    for var in container(deployment)["env"]:
        source = var.get("valueFrom", {})
        if ref := source.get("configMapKeyRef"):
            env[var["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
        elif ref := source.get("secretKeyRef"):
            if not ref.get("optional"):
                env[var["name"]] = f"k8s-test-{ref['key'].lower()}-".ljust(40, "x")
        else:
            env[var["name"]] = str(var["value"])
    return env


@each_kustomization
@each_process
def test_the_environment_validates_as_its_settings(
    kustomization: str, process: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production refuses a development default or a short secret (shared.settings)."""
    for key in list(os.environ):
        if key.startswith(process.prefix):
            monkeypatch.delenv(key)
    env = environment(kustomization, process)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    settings = process.settings()

    expected = "production" if kustomization == "production" else "development"
    assert settings.environment == expected
    assert settings.kafka_bootstrap_servers == env[f"{process.prefix}KAFKA_BOOTSTRAP_SERVERS"]
    assert isinstance(settings.mongo_url, SecretStr)
    assert settings.mongo_url.get_secret_value() != ServiceSettings().mongo_url.get_secret_value()
    assert settings.effective_log_format == ("json" if expected == "production" else "console")


def test_no_secret_value_is_committed() -> None:
    development = (
        DEVELOPMENT_JWT_SECRET,
        DEVELOPMENT_REPLY_SECRET,
        DEVELOPMENT_RECOVERY_SECRET,
        DEVELOPMENT_CLASSIFY_TOKEN,
    )
    for path in K8S.rglob("*.yaml"):
        text = path.read_text()
        assert not re.search(r"^kind:\s*(Secret|SealedSecret)\b", text, re.M), path
        assert "secretGenerator" not in text, path
        assert not any(secret in text for secret in development), path


# -- the checks catch what they are for --------------------------------------------------------


def broken_base(tmp_path: Path, edits: Mapping[str, Callable[[str], str]]) -> list[Obj]:
    copy = tmp_path / "base"
    shutil.copytree(KUSTOMIZATIONS["base"], copy)
    for name, edit in edits.items():
        path = copy / name
        changed = edit(path.read_text())
        assert changed != path.read_text(), f"the edit of {name} changed nothing"
        path.write_text(changed)
    return render(copy)


def test_the_checks_fail_on_broken_manifests(tmp_path: Path) -> None:
    objects = broken_base(
        tmp_path,
        {
            "router.yaml": lambda t: t.replace("path: /readyz", "path: /healthz").replace(
                "maxReplicas: 6", "maxReplicas: 8"
            ),
            "history.yaml": lambda t: t.replace("HISTORY_INTAKE_URL", "HISTORY_INTAKE_ULR"),
            "intake.yaml": lambda t: t.replace("              memory: 128Mi\n", "", 1).replace(
                "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"
            ),
            "history-scheduler.yaml": lambda t: t.replace("replicas: 2", "replicas: 1"),
            "intake-mail.yaml": lambda t: t.replace(
                "            - name: INTAKE_JWT_SECRET\n              valueFrom:\n"
                "                secretKeyRef:\n                  name: helpdesk-secrets\n"
                "                  key: JWT_SECRET\n",
                "            - name: INTAKE_JWT_SECRET\n              value: not-a-secret\n",
            ),
        },
    )
    found = "\n".join(problem for check in CHECKS for problem in check(objects))
    for expected in (
        "router: readinessProbe is not GET /readyz",
        "router: maxReplicas 8 > 6, the partitions of tickets.submitted",
        "history: HISTORY_INTAKE_ULR is no setting of HistorySettings",
        "intake: requests no cpu and memory",
        "intake: has a writable root filesystem",
        "history-scheduler: one replica",
        "intake-mail: INTAKE_JWT_SECRET is a secret, not from the Secret",
    ):
        assert expected in found, f"{expected!r} not reported:\n{found}"


def test_the_schemas_catch_a_misspelt_field(tmp_path: Path) -> None:
    objects = broken_base(
        tmp_path, {"router.yaml": lambda t: t.replace("livenessProbe:", "livenesProbe:")}
    )
    problems = schema_problems(objects, KUBERNETES_VERSIONS[0])
    assert any("Deployment/router" in p and "livenesProbe" in p for p in problems), problems


def test_a_missing_budget_and_a_secret_are_caught(tmp_path: Path) -> None:
    secret = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: helpdesk-secrets\n"
    objects = broken_base(
        tmp_path,
        {
            "notifier.yaml": lambda t: re.sub(
                r"---\napiVersion: policy/v1\nkind: PodDisruptionBudget\n.*?(?=---\n)",
                "",
                t,
                flags=re.S,
            ),
            "history.yaml": lambda t: t + secret + "stringData:\n  JWT_SECRET: oops\n",
        },
    )
    assert "notifier: 0 PodDisruptionBudgets select its pods" in disruption_problems(objects)
    assert "Secret helpdesk-secrets is in the manifests" in secret_problems(objects)
