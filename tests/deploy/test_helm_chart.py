"""The Helm chart, proven without a cluster: it lints, renders objects Kubernetes 1.30 would
accept, and those objects say what a production deployment of chatorch needs.

helm-python-sdk renders the chart offline (Helm's own Go engine); kubernetes-validate
checks each object against the 1.30 OpenAPI schemas, strict (an unknown or misspelt field
fails). KEDA's ScaledObject and the Prometheus Operator's ServiceMonitor are custom
resources it does not know; they are checked by structure against what they point at.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from chatorch.cli.servers import GRACEFUL_SHUTDOWN
from chatorch.settings import Settings
from chatorch.wiring.assemble import SHUTDOWN_GRACE

CHART = Path(__file__).parents[2] / "deploy" / "helm" / "chatorch"
PRODUCTION = yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text())
KUBERNETES = "1.30.0"
CUSTOM_KINDS = {"ScaledObject", "ServiceMonitor"}
Manifest = dict[str, Any]

# Sentinels for every credential the chart-made Secret can hold.
BUS_WITH_PASSWORD = "nats://chatorch:nats-pass-2b9e@nats:4222"
CREDENTIALS: dict[str, Any] = {
    "databaseUrl": "postgresql+asyncpg://chatorch:db-pass-4f1c@postgres:5432/chatorch",
    "secretKeys": "fernet-key-sentinel-8d2a",
    "jwtSecret": "jwt-secret-sentinel-19be",
    "openaiApiKey": "sk-openai-sentinel-77c0",
    "anthropicApiKey": "sk-ant-sentinel-3e5d",
    "vectorApiKey": "qdrant-key-sentinel-a6f4",
    "extra": {"CHATORCH_BUS_URL": BUS_WITH_PASSWORD},
}
SECRET_VALUES = [v for v in CREDENTIALS.values() if isinstance(v, str)] + [BUS_WITH_PASSWORD]


def _secret_settings() -> set[str]:
    """The settings that hold a credential: SecretStr ones, and the database URL."""
    names = {"CHATORCH_DATABASE_URL"}
    for name, field in Settings.model_fields.items():
        if SecretStr in getattr(field.annotation, "__args__", (field.annotation,)):
            names.add(f"CHATORCH_{name.upper()}")
    return names


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object an install of ``values`` would create (hooks included)."""
    manifests = chart.render(values, name="chat", namespace="chat", is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith(".txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def only(objects: list[Manifest], kind: str, name: str) -> Manifest:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def kinds(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def container(workload: Manifest) -> Manifest:
    containers: list[Manifest] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector's verdict on ``labels`` (matchLabels and In expressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


VARIANTS = {
    "defaults": None,
    "production": PRODUCTION,
    "chart-made secret": {"secrets": CREDENTIALS},
    "no autoscaling, exec preStop, emptyDir": {
        "gateway": {"autoscaling": {"enabled": False}, "preStop": {"action": "exec"}},
        "worker": {"autoscaling": {"enabled": False}},
        "files": {"persistence": {"enabled": False}},
    },
}


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_the_chart_lints_clean(values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_a_misspelt_value_is_refused_by_the_schema(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmValuesError, match="replicaz"):
        chart.validate_schema({"gateway": {"replicaz": 3}})
    with pytest.raises(helm.HelmValuesError, match="logFormat"):
        chart.validate_schema({"config": {"logFormat": "xml"}})
    report = helm.lint(CHART, {"config": {"namespace": "has a space"}})
    assert report["errors"], "lint passed a CHATORCH_NAMESPACE chatorch would refuse"


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_object_is_valid_kubernetes_1_30(chart: helm.Chart, values: Any) -> None:
    objects = render(chart, values)
    assert len(objects) >= 10
    for manifest in objects:
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(map(str, error.path))
            kind, name = manifest["kind"], manifest["metadata"]["name"]
            pytest.fail(f"{kind}/{name} at {where}: {error.message}", pytrace=False)


def test_the_defaults_render_the_two_roles_and_their_companions(chart: helm.Chart) -> None:
    objects = render(chart)
    names = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    assert names == [
        "ConfigMap/chat-chatorch",
        "Deployment/chat-chatorch-gateway",
        "Deployment/chat-chatorch-worker",
        "HorizontalPodAutoscaler/chat-chatorch-gateway",
        "HorizontalPodAutoscaler/chat-chatorch-worker",
        "Job/chat-chatorch-migrate",
        "PersistentVolumeClaim/chat-chatorch-files",
        "PodDisruptionBudget/chat-chatorch-gateway",
        "PodDisruptionBudget/chat-chatorch-worker",
        "Secret/chat-chatorch",
        "Secret/chat-chatorch-migrate",
        "Service/chat-chatorch",
        "Service/chat-chatorch-worker",
        "ServiceAccount/chat-chatorch",
    ]


def test_the_migration_runs_as_a_hook_before_install_and_upgrade(chart: helm.Chart) -> None:
    objects = render(chart, {"secrets": CREDENTIALS})
    job = only(objects, "Job", "chat-chatorch-migrate")
    hook = job["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hook["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert container(job)["args"] == ["migrate"]
    # The release's Secret does not exist yet at pre-install: the Job reads a hook Secret
    # made before it (a lower weight) with the same credentials.
    env_from = container(job)["envFrom"]
    assert env_from == [{"secretRef": {"name": "chat-chatorch-migrate"}}]
    hook_secret = only(objects, "Secret", "chat-chatorch-migrate")
    annotations = hook_secret["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(annotations["helm.sh/hook-weight"]) < int(hook["helm.sh/hook-weight"])
    release_secret = only(objects, "Secret", "chat-chatorch")
    assert hook_secret["stringData"] == release_secret["stringData"]
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]  # not made yet either


def test_both_roles_scale_on_cpu_with_autoscaling_v2(chart: helm.Chart) -> None:
    objects = render(chart)
    for role in ("gateway", "worker"):
        hpa = only(objects, "HorizontalPodAutoscaler", f"chat-chatorch-{role}")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"chat-chatorch-{role}"
        cpu = hpa["spec"]["metrics"][0]
        assert cpu["type"] == "Resource"
        assert cpu["resource"]["name"] == "cpu"
        assert cpu["resource"]["target"]["type"] == "Utilization"
        # Under an HPA the Deployment leaves replicas alone, or each upgrade would reset them.
        assert "replicas" not in only(objects, "Deployment", f"chat-chatorch-{role}")["spec"]


def test_gateways_can_also_scale_on_open_streams(chart: helm.Chart) -> None:
    hpa = only(render(chart, PRODUCTION), "HorizontalPodAutoscaler", "chat-chatorch-gateway")
    streams = [m for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert streams == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "chatorch_event_streams_open"},
                "target": {"type": "AverageValue", "averageValue": "2000"},
            },
        }
    ]


def test_without_autoscaling_the_replicas_are_fixed(chart: helm.Chart) -> None:
    objects = render(chart, VARIANTS["no autoscaling, exec preStop, emptyDir"])
    assert kinds(objects, "HorizontalPodAutoscaler") == []
    for role in ("gateway", "worker"):
        assert only(objects, "Deployment", f"chat-chatorch-{role}")["spec"]["replicas"] == 2


def test_keda_scales_workers_on_the_work_queue_instead_of_the_hpa(chart: helm.Chart) -> None:
    objects = render(chart, PRODUCTION)
    hpas = [o["metadata"]["name"] for o in kinds(objects, "HorizontalPodAutoscaler")]
    assert hpas == ["chat-chatorch-gateway"], "KEDA makes the workers' HPA; two would fight"
    scaled = only(objects, "ScaledObject", "chat-chatorch-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    target = scaled["spec"]["scaleTargetRef"]
    worker = only(objects, "Deployment", target["name"])
    assert target["kind"] == worker["kind"]
    assert "replicas" not in worker["spec"]
    nats, cpu = scaled["spec"]["triggers"]
    assert nats["type"] == "nats-jetstream"
    # The names chatorch gives them (adapters/nats/bus.py) under CHATORCH_NAMESPACE=prod.
    assert nats["metadata"]["stream"] == "prod_work"
    assert nats["metadata"]["consumer"] == "prod_workers"
    assert nats["metadata"]["natsServerMonitoringEndpoint"] == "nats.nats.svc.cluster.local:8222"
    assert nats["metadata"]["lagThreshold"] == "20"
    assert cpu == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
    for trigger in scaled["spec"]["triggers"]:  # KEDA reads metadata as a string map
        assert all(isinstance(value, str) for value in trigger["metadata"].values())
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]


def test_both_roles_have_a_disruption_budget(chart: helm.Chart) -> None:
    objects = render(chart)
    for role in ("gateway", "worker"):
        pdb = only(objects, "PodDisruptionBudget", f"chat-chatorch-{role}")
        pods = only(objects, "Deployment", f"chat-chatorch-{role}")["spec"]["template"]
        assert selects(pdb["spec"]["selector"], pods["metadata"]["labels"])
        assert pdb["spec"]["maxUnavailable"] == 1
    other = only(objects, "Deployment", "chat-chatorch-worker")["spec"]["template"]
    gateway_pdb = only(objects, "PodDisruptionBudget", "chat-chatorch-gateway")
    assert not selects(gateway_pdb["spec"]["selector"], other["metadata"]["labels"])


@pytest.mark.parametrize(("role", "args"), [("gateway", ["gateway"]), ("worker", ["worker"])])
def test_probes_ask_the_roles_http_port(chart: helm.Chart, role: str, args: list[str]) -> None:
    box = container(only(render(chart), "Deployment", f"chat-chatorch-{role}"))
    assert box["args"][:1] == args
    if role == "worker":
        assert box["args"] == ["worker", "--port", "8000"]  # without --port: no probes
    ports = {port["name"]: port["containerPort"] for port in box["ports"]}
    assert ports == {"http": 8000, "metrics": 9090}
    for probe, path in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ]:
        assert box[probe]["httpGet"] == {"path": path, "port": "http"}


def test_every_pod_runs_unprivileged_on_a_read_only_root(chart: helm.Chart) -> None:
    objects = render(chart)
    workloads = kinds(objects, "Deployment") + kinds(objects, "Job")
    assert len(workloads) == 3
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # deploy/Dockerfile's user
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        box = container(workload)
        context = box["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["runAsNonRoot"] is True
        # Python's temporary files (request bodies being parsed) need a writable /tmp.
        mounts = {m["mountPath"]: m["name"] for m in box["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert set(box["resources"]) == {"requests", "limits"}


def test_files_live_on_one_volume_every_pod_shares(chart: helm.Chart) -> None:
    objects = render(chart)
    claim = only(objects, "PersistentVolumeClaim", "chat-chatorch-files")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    config = only(objects, "ConfigMap", "chat-chatorch")["data"]
    folder = config["CHATORCH_BLOB_URL"].removeprefix("file://")
    for role in ("gateway", "worker"):
        deployment = only(objects, "Deployment", f"chat-chatorch-{role}")
        mounts = {m["mountPath"]: m["name"] for m in container(deployment)["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        claim_name = volumes[mounts[folder]]["persistentVolumeClaim"]["claimName"]
        assert claim_name == "chat-chatorch-files"
    mine = render(chart, {"files": {"persistence": {"existingClaim": "shared-files"}}})
    assert kinds(mine, "PersistentVolumeClaim") == []
    gateway = only(mine, "Deployment", "chat-chatorch-gateway")["spec"]["template"]["spec"]
    claims = [v["persistentVolumeClaim"] for v in gateway["volumes"] if v["name"] == "files"]
    assert claims == [{"claimName": "shared-files"}]


def test_stopping_leaves_time_for_what_chatorch_does_on_sigterm(chart: helm.Chart) -> None:
    objects = render(chart)
    gateway = only(objects, "Deployment", "chat-chatorch-gateway")["spec"]["template"]["spec"]
    pause = container({"spec": {"template": {"spec": gateway}}})["lifecycle"]["preStop"]
    assert pause == {"sleep": {"seconds": 5}}
    # preStop runs inside the grace period, before SIGTERM: pause + open requests + closing.
    assert gateway["terminationGracePeriodSeconds"] >= 5 + GRACEFUL_SHUTDOWN + 10
    worker = only(objects, "Deployment", "chat-chatorch-worker")["spec"]["template"]["spec"]
    assert "lifecycle" not in worker["containers"][0]  # no Service sends it traffic
    assert worker["terminationGracePeriodSeconds"] >= SHUTDOWN_GRACE + 10
    # Where the image's `sleep` is wanted instead (the image is Debian: coreutils is there).
    exec_variant = render(chart, VARIANTS["no autoscaling, exec preStop, emptyDir"])
    box = container(only(exec_variant, "Deployment", "chat-chatorch-gateway"))
    assert box["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}


def test_pods_spread_over_zones_and_nodes(chart: helm.Chart) -> None:
    objects = render(chart)
    for role in ("gateway", "worker"):
        pod = only(objects, "Deployment", f"chat-chatorch-{role}")["spec"]["template"]
        spread = pod["spec"]["topologySpreadConstraints"]
        keys = [c["topologyKey"] for c in spread]
        assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        for constraint in spread:
            assert selects(constraint["labelSelector"], pod["metadata"]["labels"])
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"


def test_the_service_sends_traffic_to_gateways_only(chart: helm.Chart) -> None:
    objects = render(chart)
    service = only(objects, "Service", "chat-chatorch")
    gateway = only(objects, "Deployment", "chat-chatorch-gateway")["spec"]["template"]
    worker = only(objects, "Deployment", "chat-chatorch-worker")["spec"]["template"]
    selector = {"matchLabels": service["spec"]["selector"]}
    assert selects(selector, gateway["metadata"]["labels"])
    assert not selects(selector, worker["metadata"]["labels"])
    ports = {p["name"]: p["targetPort"] for p in service["spec"]["ports"]}
    assert ports == {"http": "http", "metrics": "metrics"}
    assert "sessionAffinity" not in service["spec"]  # any gateway serves any stream


def test_settings_are_real_and_credentials_never_inline(chart: helm.Chart) -> None:
    objects = render(chart, {"secrets": CREDENTIALS, "config": {"env": {"CHATORCH_LLM": "x"}}})
    known = {f"CHATORCH_{name.upper()}" for name in Settings.model_fields}
    config = only(objects, "ConfigMap", "chat-chatorch")["data"]
    secret = only(objects, "Secret", "chat-chatorch")["stringData"]
    assert set(config) <= known, "a ConfigMap key chatorch would not read"
    assert set(secret) <= known, "a Secret key chatorch would not read"
    assert not set(config) & _secret_settings(), "a credential in the ConfigMap"
    # Each named field of `secrets` is a credential chatorch reads; `extra` carries others.
    assert set(secret) - {"CHATORCH_BUS_URL"} <= _secret_settings()
    assert len(secret) == len(SECRET_VALUES)
    for manifest in objects:
        if manifest["kind"] == "Secret":
            continue
        text = yaml.safe_dump(manifest)
        leaked = [value[:12] for value in SECRET_VALUES if value in text]
        assert not leaked, f"{manifest['kind']}/{manifest['metadata']['name']} shows {leaked}"
    for role in ("gateway", "worker"):
        box = container(only(objects, "Deployment", f"chat-chatorch-{role}"))
        assert box["envFrom"] == [
            {"configMapRef": {"name": "chat-chatorch"}},
            {"secretRef": {"name": "chat-chatorch"}},  # last: the Secret's keys win
        ]
        assert {e["name"] for e in box["env"]} == {"CHATORCH_POD_ID"}


def test_an_existing_secret_is_read_and_none_is_made(chart: helm.Chart) -> None:
    objects = render(chart, PRODUCTION)
    assert kinds(objects, "Secret") == []
    for workload in [*kinds(objects, "Deployment"), *kinds(objects, "Job")]:
        refs = [s["secretRef"]["name"] for s in container(workload)["envFrom"] if "secretRef" in s]
        assert refs == ["chatorch-credentials"]
        names = {e["name"] for e in container(workload).get("env", [])}
        assert not names & _secret_settings()
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        assert "checksum/secret" not in annotations  # a Secret the chart cannot see


def test_the_configuration_starts_a_secured_gateway(
    chart: helm.Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production ConfigMap and Secret, as env vars, are settings chatorch accepts."""
    objects = render(chart, {**PRODUCTION, "secrets": CREDENTIALS})
    for key, value in only(objects, "ConfigMap", "chat-chatorch")["data"].items():
        monkeypatch.setenv(key, value)
    for key, value in only(objects, "Secret", "chat-chatorch")["stringData"].items():
        monkeypatch.setenv(key, value)  # envFrom: the Secret comes last and wins
    settings = Settings(_env_file=None)
    assert settings.auth_required is True
    assert settings.host == "0.0.0.0"
    assert settings.log_format == "json"
    assert settings.namespace == "prod"
    assert settings.metrics_port == 9090 != settings.port
    assert settings.allowed_hosts == ["chat.example.com"]
    assert settings.bus_url == BUS_WITH_PASSWORD
    assert settings.blob_url == "file:///var/lib/chatorch/files"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == CREDENTIALS["openaiApiKey"]


def test_monitoring_scrapes_the_metrics_port_of_both_roles(chart: helm.Chart) -> None:
    objects = render(chart, PRODUCTION)
    monitor = only(objects, "ServiceMonitor", "chat-chatorch")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["chat"]}
    endpoint = monitor["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    scraped = [
        s
        for s in kinds(objects, "Service")
        if selects(monitor["spec"]["selector"], s["metadata"]["labels"])
    ]
    assert sorted(s["metadata"]["name"] for s in scraped) == [
        "chat-chatorch",
        "chat-chatorch-worker",
    ]
    for service in scraped:
        assert "metrics" in {port["name"] for port in service["spec"]["ports"]}
        backends = {"matchLabels": service["spec"]["selector"]}
        pods = [
            d
            for d in kinds(objects, "Deployment")
            if selects(backends, d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(pods) == 1
        assert "metrics" in {port["name"] for port in container(pods[0])["ports"]}
    assert kinds(render(chart), "ServiceMonitor") == []


def test_network_policies_admit_clients_and_scrapers_only(chart: helm.Chart) -> None:
    objects = render(chart, PRODUCTION)
    for role in ("gateway", "worker"):
        policy = only(objects, "NetworkPolicy", f"chat-chatorch-{role}")
        pods = only(objects, "Deployment", f"chat-chatorch-{role}")["spec"]["template"]
        assert selects(policy["spec"]["podSelector"], pods["metadata"]["labels"])
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        admitted = [port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]]
        assert admitted == (["http", "metrics"] if role == "gateway" else ["metrics"])
        egress = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert {53, 5432, 4222, 6379, 6333, 443} <= egress
    assert kinds(render(chart), "NetworkPolicy") == []


def test_the_ingress_reaches_the_gateways_service(chart: helm.Chart) -> None:
    objects = render(chart, PRODUCTION)
    ingress = only(objects, "Ingress", "chat-chatorch")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "chat-chatorch", "port": {"name": "http"}}
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"  # SSE


def test_the_notes_warn_about_what_would_keep_pods_from_starting(chart: helm.Chart) -> None:
    def notes(values: dict[str, Any] | None) -> str:
        return chart.render(values, name="chat", namespace="chat")["chatorch/templates/NOTES.txt"]

    bare = notes(None)
    assert "no database is configured" in bare
    assert "chatorch keys create --user admin --role admin" in bare  # auth is on
    assert "kubectl -n chat exec deploy/chat-chatorch-gateway" in bare
    production = notes(PRODUCTION)
    assert "WARNING" not in production
    assert "https://chat.example.com/" in production
    assert "prod_work" in production
    assert "no database is configured" not in notes({"secrets": CREDENTIALS})
    assert "emptyDir" in notes({"files": {"persistence": {"enabled": False}}})
