"""The Helm chart in deploy/chart, rendered by the real Helm engine (helm-python-sdk: Helm's Go SDK via ctypes).

Every rendered document is checked against the official Kubernetes client's models (no misspelt or unknown
field survives the round trip), against the application (roles, FLUXPLANE_* names in controlplane/settings.py,
the API verbs the code uses) and against a real API server: ``kubectl apply --dry-run=server`` on the simulator.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import tomllib
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from graph import apiaccess

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "chart"
SETTINGS = (ROOT / "controlplane" / "settings.py").read_text()
NAMESPACE = "fluxplane"

MINIMAL = {"allowedHosts": ["fluxplane.example.com"], "secret": {"existingSecret": "fluxplane-env"}}
SENTINELS = {  # secret values that must appear in the chart's Secret only
    "secretKey": "sentinel-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "databaseUrl": "postgres://fluxplane:sentinel-db-password@db:5432/fluxplane",
    "redisUrl": "redis://:sentinel-redis-password@redis:6379/0",
    "emailPassword": "sentinel-email-password",
    "alertmanagerWebhookToken": "sentinel-am-token",
    "fluxWebhookHmacKey": "sentinel-hmac-key",
    "fluxWebhookToken": "sentinel-flux-token",
}
CHART_SECRET = {"allowedHosts": ["fluxplane.example.com", ".internal.example.com"], "secret": {"values": SENTINELS}}
FULL = {
    "image": {"repository": "registry.example.com/fluxplane", "tag": "1.2.3", "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "allowedHosts": ["fluxplane.example.com", "fluxplane.internal"],
    "csrfTrustedOrigins": ["https://fluxplane.example.com"],
    "baseUrl": "https://fluxplane.example.com",
    "createPullRequest": False,
    "git": {"type": "git", "connection": "fleet", "url": "https://git.example.com/org/fleet.git",
            "tokenSecret": {"name": "fluxplane-git", "key": "password"}},
    "playbooks": {"scale": False, "edit": False, "createNamespace": False},
    "approvals": {"exec": 1, "gitops": 2, "suspend": 0, "reconcile": 2, "expiryHours": 24},
    "email": {"backend": "django.core.mail.backends.smtp.EmailBackend", "host": "smtp.example.com", "port": 587,
              "user": "fluxplane", "tls": True, "from": "fluxplane@example.com"},
    "logLevel": "DEBUG",
    "extraEnv": {"FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS": "600", "FLUXPLANE_DB_CONN_MAX_AGE": 30},
    "extraEnvFrom": [{"secretRef": {"name": "fluxplane-alerts"}}],
    "secret": {"existingSecret": "fluxplane-env", "keys": {"databaseUrl": "database-url"}},
    "migrations": {"mode": "job", "resources": {"limits": {"memory": "256Mi"}}},
    "web": {"replicas": 3, "workers": 4, "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9},
            "nodeSelector": {"node-role.example.com/web": "true"}, "priorityClassName": "fluxplane-web"},
    "worker": {"replicas": 5, "pdb": {"minAvailable": 2}},
    "scheduler": {"replicas": 2},
    "watcher": {"enabled": True, "replicas": 2},
    "networkPolicy": {"enabled": True, "ingressFrom": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "ingress-nginx"}}}], "egress": {"database": {"ports": [5432], "to": [
            {"ipBlock": {"cidr": "10.20.0.0/16"}}]}}},
    "service": {"type": "LoadBalancer", "port": 8080},
    "ingress": {"enabled": True, "className": "nginx", "annotations": {"cert-manager.io/cluster-issuer": "le"},
                "tls": [{"secretName": "fluxplane-tls", "hosts": ["fluxplane.example.com"]}]},
    "serviceAccount": {"name": "fluxplane-reader", "annotations": {"example.com/role": "reader"}},
    "rbac": {"secrets": True, "jit": {"namespaces": ["team-a", "team-b"]},
             "extraRules": [{"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors"],
                             "verbs": ["get", "list", "watch"]}]},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
    "podLabels": {"team": "platform"},
}
CASES = {"minimal": MINIMAL, "chart-secret": CHART_SECRET, "full": FULL}
ROLES = {"web": ["web"], "worker": ["worker"], "scheduler": ["scheduler"], "watcher": ["watcher"]}


# ---------------------------------------------------------------------------------------------------- rendering
@pytest.fixture(scope="module")
def helm():
    try:
        import helm_python
    except ImportError:
        pytest.fail("helm-python-sdk is not installed: it is the chart's renderer (pip install helm-python-sdk)")
    return helm_python


def render(helm, values: dict) -> list[dict]:
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values, name="fp", namespace=NAMESPACE)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


@pytest.fixture(scope="module")
def rendered(helm) -> dict[str, list[dict]]:
    return {name: render(helm, values) for name, values in CASES.items()}


def find(docs: list[dict], kind: str, suffix: str = "") -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, f"{kind} *{suffix}: {[d['metadata']['name'] for d in matches]}"
    return matches[0]


def pod_containers(doc: dict) -> Iterator[dict]:
    spec = doc["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job")]


def kinds_named(docs: list[dict], kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in docs if d["kind"] == kind}


# ------------------------------------------------------------------------------------------------- the documents
def test_defaults_alone_name_what_is_missing(helm):
    with pytest.raises(helm.HelmError, match="allowedHosts is required"):
        render(helm, {})
    with pytest.raises(helm.HelmError, match="secret.existingSecret"):
        render(helm, {"allowedHosts": ["fluxplane.example.com"]})
    with pytest.raises(helm.HelmError, match="needs secret.existingSecret"):
        render(helm, {**CHART_SECRET, "migrations": {"mode": "job"}})


@pytest.mark.parametrize("case", CASES)
def test_kinds(rendered, case):
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in rendered[case])
    expected = {("ConfigMap", "fp-fluxplane"), ("Service", "fp-fluxplane"), ("ClusterRole", "fp-fluxplane"),
                ("ClusterRoleBinding", "fp-fluxplane"), ("ClusterRole", "fp-fluxplane-watcher"),
                ("ClusterRoleBinding", "fp-fluxplane-watcher"), ("Deployment", "fp-fluxplane-web"),
                ("Deployment", "fp-fluxplane-worker"), ("Deployment", "fp-fluxplane-scheduler"),
                ("Deployment", "fp-fluxplane-watcher"), ("ServiceAccount", "fp-fluxplane-watcher"),
                ("ValidatingAdmissionPolicy", "fp-fluxplane-jit-delete"),
                ("ValidatingAdmissionPolicyBinding", "fp-fluxplane-jit-delete"),
                ("ServiceAccount", "fp-fluxplane-web"), ("ClusterRole", "fp-fluxplane-web"),
                ("ClusterRoleBinding", "fp-fluxplane-web")}
    expected |= {("PodDisruptionBudget", f"fp-fluxplane-{c}") for c in ROLES}
    expected.add(("ServiceAccount", "fluxplane-reader" if case == "full" else "fp-fluxplane"))
    if case == "chart-secret":
        expected.add(("Secret", "fp-fluxplane"))
    if case == "full":
        expected |= {("Ingress", "fp-fluxplane"), ("Job", "fp-fluxplane-migrate"),
                     ("HorizontalPodAutoscaler", "fp-fluxplane-web"), ("NetworkPolicy", "fp-fluxplane"),
                     ("NetworkPolicy", "fp-fluxplane-web")}
        expected |= {(kind, "fp-fluxplane-jit") for kind in ("Role", "RoleBinding")}  # one per namespace
    assert set(kinds) == expected
    assert len(kinds) == len(expected) + (2 if case == "full" else 0)


MODELS = {"ConfigMap": "V1ConfigMap", "Secret": "V1Secret", "Service": "V1Service",
          "ServiceAccount": "V1ServiceAccount", "ClusterRole": "V1ClusterRole",
          "ClusterRoleBinding": "V1ClusterRoleBinding", "Role": "V1Role", "RoleBinding": "V1RoleBinding",
          "Deployment": "V1Deployment", "Job": "V1Job", "Ingress": "V1Ingress",
          "PodDisruptionBudget": "V1PodDisruptionBudget", "HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler",
          "NetworkPolicy": "V1NetworkPolicy", "ValidatingAdmissionPolicy": "V1ValidatingAdmissionPolicy",
          "ValidatingAdmissionPolicyBinding": "V1ValidatingAdmissionPolicyBinding"}


def _normalise(value):
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


@pytest.mark.parametrize("case", CASES)
def test_every_document_matches_the_kubernetes_models(rendered, case):
    """Deserialise into the official client's typed models (required fields enforced) and back: a field the
    models do not know (a typo, a wrong level) is dropped by the round trip and fails the comparison."""
    api = client.ApiClient()
    for doc in rendered[case]:
        assert doc["apiVersion"] and doc["metadata"]["name"]
        model = api._ApiClient__deserialize(doc, MODELS[doc["kind"]])  # noqa: SLF001 - the models' own parser
        assert _normalise(api.sanitize_for_serialization(model)) == _normalise(doc), doc["kind"]
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "fp" and labels["app.kubernetes.io/name"] == "fluxplane"


# -------------------------------------------------------------------------------------------------- the workloads
@pytest.mark.parametrize("case", CASES)
def test_roles_replicas_and_strategies(rendered, case):
    docs = rendered[case]
    values = CASES[case]
    for role, args in ROLES.items():
        deployment = find(docs, "Deployment", f"-{role}")
        containers = deployment["spec"]["template"]["spec"]["containers"]
        assert [c["args"] for c in containers] == [args]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == role
        assert deployment["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
    if case == "full":  # the HPA owns the web replica count
        assert "replicas" not in find(docs, "Deployment", "-web")["spec"]
    else:
        assert find(docs, "Deployment", "-web")["spec"]["replicas"] == 1
    assert find(docs, "Deployment", "-worker")["spec"]["replicas"] == values.get("worker", {}).get("replicas", 2)
    for leased in ("scheduler", "watcher"):  # leader election (leases) makes more replicas and rolling updates safe
        spec = find(docs, "Deployment", f"-{leased}")["spec"]
        assert spec["replicas"] == values.get(leased, {}).get("replicas", 1) and "strategy" not in spec
    web = find(docs, "Deployment", "-web")["spec"]["template"]["spec"]
    service = find(docs, "Service")
    assert service["spec"]["selector"] == find(docs, "Deployment", "-web")["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert web["containers"][0]["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


@pytest.mark.parametrize("case", CASES)
def test_web_probes_need_no_host_and_liveness_needs_no_dependency(rendered, case):
    """Liveness and startup ask /livez (the process), readiness /readyz (database and Redis); no probe sends a Host
    header, so wildcard and host:port allowedHosts cannot break them (tests/controlplane/test_health.py runs the
    real gunicorn with these probes)."""
    web = find(rendered[case], "Deployment", "-web")["spec"]["template"]["spec"]["containers"][0]
    paths = {probe: web[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths == {"startupProbe": "/livez", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
    for probe in paths:
        assert web[probe]["httpGet"]["port"] == "http" and "httpHeaders" not in web[probe]["httpGet"]


@pytest.mark.parametrize("case", CASES)
def test_processes_without_http_are_live_by_heartbeat(rendered, case):
    for role in ("worker", "scheduler", "watcher"):
        container = find(rendered[case], "Deployment", f"-{role}")["spec"]["template"]["spec"]["containers"][0]
        command = container["livenessProbe"]["exec"]["command"]
        assert command[:3] == ["fluxplane-entrypoint", "alive", role] and int(command[3]) >= 60
        assert "readinessProbe" not in container  # they serve nothing
    assert find(rendered[case], "ConfigMap")["data"]["FLUXPLANE_HEARTBEAT_DIR"].startswith("/tmp/")


def test_wildcard_and_port_hosts_render(helm):
    docs = render(helm, {**MINIMAL, "allowedHosts": [".example.com", "fluxplane.example.com:8443", "*"]})
    data = find(docs, "ConfigMap")["data"]
    assert data["FLUXPLANE_ALLOWED_HOSTS"] == ".example.com,fluxplane.example.com:8443,*"
    assert data["FLUXPLANE_BASE_URL"] == "https://fluxplane.example.com:8443"  # the first usable one
    only_wildcards = find(render(helm, {**MINIMAL, "allowedHosts": ["*"]}), "ConfigMap")["data"]
    assert "FLUXPLANE_BASE_URL" not in only_wildcards  # no made-up https://localhost


@pytest.mark.parametrize("case", CASES)
def test_migrations_run_once_through_the_migrate_role(rendered, case):
    docs = rendered[case]
    web = find(docs, "Deployment", "-web")["spec"]["template"]["spec"]
    config = find(docs, "ConfigMap")["data"]
    assert config["FLUXPLANE_MIGRATE"] == "0"  # the web role never migrates behind the chart's back
    if case == "full":
        assert "initContainers" not in web
        job = find(docs, "Job", "-migrate")
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["migrate"]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        # The same settings as every other container (a pre-install hook runs before the ConfigMap exists):
        # the ConfigMap's data inline, extraEnv included, extraEnvFrom, the secrets.
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert {k: v for k, v in env.items() if v is not None} == config
        assert env["FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS"] == "600"
        assert container["envFrom"] == FULL["extraEnvFrom"]
        assert {"FLUXPLANE_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= set(env)
        assert container["resources"]["limits"] == {"memory": "256Mi"}  # merged over the default requests
    else:
        migrate = web["initContainers"]
        assert [c["args"] for c in migrate] == [["migrate"]]
        assert migrate[0]["resources"]["requests"] and migrate[0]["resources"]["limits"]["memory"]


def test_migration_job_deadline_fits_flux_default_timeout(helm):
    """Flux's default HelmRelease timeout is 5 minutes; the hook must end first, or the retry deletes it running."""
    with helm.Chart.load(str(CHART)) as chart:
        assert chart.values["migrations"]["activeDeadlineSeconds"] < 300
    install = (ROOT / "docs" / "install.md").read_text()
    helmrelease = install[install.index("kind: HelmRelease"):]
    timeout = re.search(r"^  timeout: (\d+)m$", helmrelease, re.M)
    assert timeout and int(timeout.group(1)) * 60 > 240, "the docs' HelmRelease must set spec.timeout"
    for action in ("install", "upgrade"):
        assert re.search(rf"^  {action}:\n    remediation:", helmrelease, re.M), action


@pytest.mark.parametrize("case", CASES)
def test_other_components_wait_for_the_schema(rendered, case):
    for role in ("worker", "scheduler", "watcher"):
        spec = find(rendered[case], "Deployment", f"-{role}")["spec"]["template"]["spec"]
        [init] = spec["initContainers"]
        assert init["args"][:1] == ["wait-for-schema"] and init["resources"]
        main = spec["containers"][0]
        assert init["env"] == main["env"] and init["envFrom"] == main["envFrom"]  # same database


def test_image_and_scheduling_values(rendered, helm):
    for doc in workloads(rendered["full"]):
        spec = doc["spec"]["template"]["spec"]
        web = doc["metadata"]["name"].endswith("-web")
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        # per component when set, else chart-wide
        assert spec["nodeSelector"] == (FULL["web"]["nodeSelector"] if web else FULL["nodeSelector"])
        assert spec.get("priorityClassName") == ("fluxplane-web" if web else None)
        assert spec["tolerations"] == FULL["tolerations"]
        assert spec["affinity"] == FULL["affinity"]
        for container in pod_containers(doc):
            assert container["image"] == "registry.example.com/fluxplane:1.2.3"
            assert container["imagePullPolicy"] == "Always"
    for doc in workloads(rendered["minimal"]):
        for container in pod_containers(doc):
            assert container["image"] == "ghcr.io/fluxplane/fluxplane:0.1.0"  # qualified; the chart's appVersion
    digest = "sha256:" + "ab" * 32
    for doc in workloads(render(helm, {**MINIMAL, "image": {"repository": "registry.example.com/fp", "tag": "1.0",
                                                            "digest": digest}})):
        assert {c["image"] for c in pod_containers(doc)} == {f"registry.example.com/fp@{digest}"}


@pytest.mark.parametrize("case", CASES)
def test_topology_spread_and_disruption_budgets(rendered, case):
    docs = rendered[case]
    for role in ROLES:
        deployment = find(docs, "Deployment", f"-{role}")
        selector = deployment["spec"]["selector"]["matchLabels"]
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        assert all(c["labelSelector"]["matchLabels"] == selector and c["whenUnsatisfiable"] == "ScheduleAnyway"
                   for c in spread)
        pdb = find(docs, "PodDisruptionBudget", f"-{role}")
        assert pdb["spec"]["selector"]["matchLabels"] == selector
        expected = {"minAvailable": 2} if (case, role) == ("full", "worker") else {"maxUnavailable": 1}
        assert {k: v for k, v in pdb["spec"].items() if k != "selector"} == expected


def test_autoscaling(rendered, helm):
    hpa = find(rendered["full"], "HorizontalPodAutoscaler", "-web")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "fp-fluxplane-web"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 75}
    autoscaling = {"enabled": True, "targetMemoryUtilizationPercentage": 80}
    docs = render(helm, {**MINIMAL, "worker": {"autoscaling": autoscaling}})
    worker = find(docs, "HorizontalPodAutoscaler", "-worker")
    assert [m["resource"]["name"] for m in worker["spec"]["metrics"]] == ["cpu", "memory"]
    assert "replicas" not in find(docs, "Deployment", "-worker")["spec"]


def test_network_policies(rendered):
    docs = rendered["full"]
    web = find(docs, "NetworkPolicy", "-web")
    assert web["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    assert web["spec"]["policyTypes"] == ["Ingress"]
    assert web["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}],
                                       "from": FULL["networkPolicy"]["ingressFrom"]}]
    every = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "fp-fluxplane")
    assert every["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "fluxplane",
                                                           "app.kubernetes.io/instance": "fp"}
    assert every["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in every["spec"]  # deny
    egress = every["spec"]["egress"]
    ports = [sorted(p["port"] for p in rule["ports"]) for rule in egress]
    assert ports == [[53, 53], [443, 6443], [5432], [6379], [22, 443], [9093]]
    database = egress[2]
    assert database["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert not kinds_named(rendered["minimal"], "NetworkPolicy")  # opt-in: its CIDRs are the cluster's


@pytest.mark.parametrize("case", CASES)
def test_security_contexts_and_writable_dirs(rendered, case):
    uid = int(re.search(r"--uid (\d+)", (ROOT / "Dockerfile").read_text()).group(1))
    for doc in workloads(rendered[case]):
        spec = doc["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == uid
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"] and "emptyDir" in volumes["data"]
        for container in pod_containers(doc):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts["/tmp"] == "tmp" and mounts["/data"] == "data"
    config = find(rendered[case], "ConfigMap")["data"]
    assert config["FLUXPLANE_DATA_DIR"] == "/data" and config["HOME"] == "/tmp"


@pytest.mark.parametrize("case", CASES)
def test_only_the_pods_that_call_the_api_get_a_token(rendered, case):
    docs = rendered[case]
    worker_account = "fluxplane-reader" if case == "full" else "fp-fluxplane"
    assert find(docs, "Deployment", "-worker")["spec"]["template"]["spec"]["serviceAccountName"] == worker_account
    # the watcher only reads: its own account, bound to the read-only ClusterRole
    assert find(docs, "Deployment", "-watcher")["spec"]["template"]["spec"]["serviceAccountName"] == \
        "fp-fluxplane-watcher"
    # the web pods read pod logs, events and Helm history for object pages: their own read-only account
    assert find(docs, "Deployment", "-web")["spec"]["template"]["spec"]["serviceAccountName"] == "fp-fluxplane-web"
    spec = find(docs, "Deployment", "-scheduler")["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False and "serviceAccountName" not in spec
    job = [d for d in docs if d["kind"] == "Job"]
    for doc in job:
        assert doc["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


# ----------------------------------------------------------------------------------------- settings and secrets
def _settings_variables() -> set[str]:
    names = set(re.findall(r"\b(FLUXPLANE_[A-Z0-9_]+|DATABASE_URL|REDIS_URL)\b", SETTINGS))
    # f-string families: FLUXPLANE_PLAYBOOK_{var} and FLUXPLANE_APPROVALS_{name.upper()}
    names |= {f"FLUXPLANE_PLAYBOOK_{var}" for _key, var in _settings_playbooks()}
    names |= {f"FLUXPLANE_APPROVALS_{n.upper()}" for n in ("suspend", "resume", "reconcile")}
    # read by the container entrypoint rather than settings
    names |= set(re.findall(r"\b(FLUXPLANE_[A-Z0-9_]+)\b", (ROOT / "docker" / "entrypoint.sh").read_text()))
    return names


def _settings_playbooks() -> list[tuple[str, str]]:
    """The (values key, variable suffix) pairs of controlplane/settings.py FLUXPLANE_PLAYBOOKS."""
    tree = ast.parse(SETTINGS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FLUXPLANE_PLAYBOOKS":
            comp = node.value
            assert isinstance(comp, ast.DictComp)
            return [tuple(ast.literal_eval(e)) for e in comp.generators[0].iter.elts]
    raise AssertionError("FLUXPLANE_PLAYBOOKS not found in controlplane/settings.py")


def _set_variables(docs: list[dict]) -> dict[str, object]:
    """Every variable the chart sets: ConfigMap data and container env (literal values or references)."""
    out: dict[str, object] = dict(find(docs, "ConfigMap")["data"])
    for doc in workloads(docs):
        for container in pod_containers(doc):
            for entry in container.get("env", []):
                out.setdefault(entry["name"], entry.get("value", entry.get("valueFrom")))
    return out


@pytest.mark.parametrize("case", CASES)
def test_every_variable_exists_in_the_application(rendered, case):
    known = _settings_variables() | {"HOME", "XDG_CACHE_HOME"}
    unknown = sorted(set(_set_variables(rendered[case])) - known)
    assert not unknown, f"the chart sets variables the application does not read: {unknown}"


def test_playbook_toggles_match_the_settings(rendered, helm):
    pairs = _settings_playbooks()
    with helm.Chart.load(str(CHART)) as chart:
        assert sorted(chart.values["playbooks"]) == sorted(key for key, _ in pairs)
    minimal = find(rendered["minimal"], "ConfigMap")["data"]
    full = find(rendered["full"], "ConfigMap")["data"]
    for key, var in pairs:
        assert minimal[f"FLUXPLANE_PLAYBOOK_{var}"] == "1"
        assert full[f"FLUXPLANE_PLAYBOOK_{var}"] == ("0" if FULL["playbooks"].get(key) is False else "1"), key


def test_seed_values_reach_their_variables(rendered):
    data = find(rendered["full"], "ConfigMap")["data"]
    assert data["FLUXPLANE_CREATE_PULL_REQUEST"] == "0"
    assert (data["FLUXPLANE_GIT_TYPE"], data["FLUXPLANE_GIT_CONNECTION"], data["FLUXPLANE_GIT_URL"]) == \
        ("git", "fleet", "https://git.example.com/org/fleet.git")
    assert data["FLUXPLANE_ALLOWED_HOSTS"] == "fluxplane.example.com,fluxplane.internal"
    assert data["FLUXPLANE_CSRF_TRUSTED_ORIGINS"] == "https://fluxplane.example.com"
    assert data["FLUXPLANE_BASE_URL"] == "https://fluxplane.example.com"
    assert (data["FLUXPLANE_APPROVALS_EXEC"], data["FLUXPLANE_APPROVALS_GITOPS"]) == ("1", "2")
    assert (data["FLUXPLANE_APPROVALS_SUSPEND"], data["FLUXPLANE_APPROVALS_RECONCILE"]) == ("0", "2")
    assert "FLUXPLANE_APPROVALS_RESUME" not in data  # null: the mode's number applies
    assert data["FLUXPLANE_APPROVAL_EXPIRY_HOURS"] == "24"
    assert (data["FLUXPLANE_EMAIL_HOST"], data["FLUXPLANE_EMAIL_PORT"], data["FLUXPLANE_EMAIL_TLS"]) == \
        ("smtp.example.com", "587", "1")
    assert data["FLUXPLANE_WEB_WORKERS"] == "4" and data["FLUXPLANE_LOG_LEVEL"] == "DEBUG"
    assert data["FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS"] == "600" and data["FLUXPLANE_DB_CONN_MAX_AGE"] == "30"
    minimal = find(rendered["minimal"], "ConfigMap")["data"]
    assert minimal["FLUXPLANE_CREATE_PULL_REQUEST"] == "1" and minimal["FLUXPLANE_GIT_TYPE"] == "github"
    assert minimal["FLUXPLANE_BASE_URL"] == "https://fluxplane.example.com"
    assert not any(k.startswith("FLUXPLANE_APPROVALS_") and k[21:] in ("SUSPEND", "RESUME", "RECONCILE")
                   for k in minimal)


@pytest.mark.parametrize("case", CASES)
def test_secrets_come_only_from_secret_references(rendered, case):
    docs = rendered[case]
    secret_name = CASES[case]["secret"].get("existingSecret") or "fp-fluxplane"
    keys = {"databaseUrl": "database-url"} if case == "full" else {}
    for doc in workloads(docs):
        for container in pod_containers(doc):
            env = {e["name"]: e for e in container.get("env", [])}
            for var in ("FLUXPLANE_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FLUXPLANE_EMAIL_PASSWORD",
                        "FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN", "FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY",
                        "FLUXPLANE_FLUX_WEBHOOK_TOKEN"):
                ref = env[var]["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret_name and "value" not in env[var]
                assert ref["key"] == keys.get("databaseUrl", var) if var == "DATABASE_URL" else ref["key"] == var
            literal = {e["name"] for e in container.get("env", []) if "value" in e}
            assert not literal & {"FLUXPLANE_SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    config = find(docs, "ConfigMap")["data"]
    assert not set(config) & {"FLUXPLANE_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FLUXPLANE_EMAIL_PASSWORD"}
    if case == "chart-secret":
        outside = yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"])
        for value in SENTINELS.values():
            assert value not in outside
        data = find(docs, "Secret")["data"]
        assert base64.b64decode(data["FLUXPLANE_SECRET_KEY"]).decode() == SENTINELS["secretKey"]
        assert base64.b64decode(data["FLUXPLANE_FLUX_WEBHOOK_TOKEN"]).decode() == SENTINELS["fluxWebhookToken"]


def test_git_token_is_a_mounted_file(rendered, helm):
    for doc in workloads(rendered["full"]):
        spec = doc["spec"]["template"]["spec"]
        volume = next(v for v in spec["volumes"] if v["name"] == "git-token")
        assert volume["secret"]["secretName"] == "fluxplane-git"
        assert volume["secret"]["items"] == [{"key": "password", "path": "git-token"}]
        if doc["kind"] == "Deployment":
            for container in spec["containers"]:
                mount = next(m for m in container["volumeMounts"] if m["name"] == "git-token")
                assert mount == {"name": "git-token", "mountPath": "/var/run/fluxplane", "readOnly": True}
    assert "file:/var/run/fluxplane/git-token" in (CHART / "values.yaml").read_text()
    for doc in workloads(rendered["minimal"]):
        assert all(v["name"] != "git-token" for v in doc["spec"]["template"]["spec"]["volumes"])
    # the values have no place for the token itself
    with pytest.raises(helm.HelmError, match="additional properties 'token' not allowed"):
        render(helm, {**MINIMAL, "git": {"token": "ghp_example"}})


# ------------------------------------------------------------------------------------------------------- RBAC
def _allowed(rules: list[dict]) -> set[tuple[str, str, str]]:
    out = set()
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.add((group, resource, verb))
    return out


def test_rbac_file_is_generated_from_the_code():
    from graph.management.commands.chart_rbac import render as render_table

    assert (CHART / "files" / "rbac.yaml").read_text() == render_table(), "run `python manage.py chart_rbac`"
    from access.jit.models import GRANT_LABEL

    assert apiaccess.JIT_GRANT_LABEL == GRANT_LABEL


def test_rbac_is_exactly_the_table_of_what_the_code_uses(rendered):
    docs = rendered["minimal"]
    worker = _allowed(find(docs, "ClusterRole", "fp-fluxplane")["rules"])
    assert not any("*" in entry for entry in worker)
    # default: no Secrets at all (rbac.secrets), RoleBinding delete cluster-wide but guarded by admission
    assert worker == apiaccess.allowed(apiaccess.WORKER, toggles=frozenset()), \
        (sorted(apiaccess.allowed(apiaccess.WORKER, frozenset()) - worker),
         sorted(worker - apiaccess.allowed(apiaccess.WORKER, frozenset())))
    assert not {entry for entry in worker if entry[1] == "secrets"}
    watcher = _allowed(find(docs, "ClusterRole", "fp-fluxplane-watcher")["rules"])
    assert watcher == apiaccess.allowed(apiaccess.WATCHER)
    assert {verb for _g, _r, verb in watcher} == {"list", "watch"}  # read-only
    binding = find(docs, "ClusterRoleBinding", "fp-fluxplane")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "fp-fluxplane"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fp-fluxplane", "namespace": NAMESPACE}]
    assert find(docs, "ClusterRoleBinding", "-watcher")["subjects"] == [
        {"kind": "ServiceAccount", "name": "fp-fluxplane-watcher", "namespace": NAMESPACE}]
    web = _allowed(find(docs, "ClusterRole", "fp-fluxplane-web")["rules"])
    assert web == apiaccess.allowed(apiaccess.WEB, toggles=frozenset())
    assert web == {("", "pods/log", "get"), ("", "events", "list"), ("events.k8s.io", "events", "list")}
    assert find(docs, "ClusterRoleBinding", "-web")["subjects"] == [
        {"kind": "ServiceAccount", "name": "fp-fluxplane-web", "namespace": NAMESPACE}]


def test_rbac_secrets_and_jit_namespaces(rendered):
    docs = rendered["full"]
    worker = _allowed(find(docs, "ClusterRole", "fp-fluxplane")["rules"])
    extra = {("monitoring.coreos.com", "servicemonitors", v) for v in ("get", "list", "watch")}
    # rbac.secrets: list only; rbac.jit.namespaces: no cluster-wide delete, a Role per namespace instead
    expected = (apiaccess.allowed(apiaccess.WORKER) - {("rbac.authorization.k8s.io", "rolebindings", "delete")})
    assert worker == expected | extra
    assert ("", "secrets", "list") in worker and ("", "secrets", "get") not in worker
    # the release history on HelmRelease pages reads Helm storage with the same opt-in
    assert _allowed(find(docs, "ClusterRole", "fp-fluxplane-web")["rules"]) == apiaccess.allowed(apiaccess.WEB)
    assert ("", "secrets", "list") in apiaccess.allowed(apiaccess.WEB)
    roles = [d for d in docs if d["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    for role in roles:
        assert _allowed(role["rules"]) == {("rbac.authorization.k8s.io", "rolebindings", "delete")}
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fluxplane-reader", "namespace": NAMESPACE}]


def test_rolebinding_deletion_is_limited_to_jit_grants_by_admission(rendered):
    policy = find(rendered["minimal"], "ValidatingAdmissionPolicy")
    rule = policy["spec"]["matchConstraints"]["resourceRules"][0]
    assert (rule["apiGroups"], rule["resources"], rule["operations"]) == (
        ["rbac.authorization.k8s.io"], ["rolebindings"], ["DELETE"])
    assert policy["spec"]["matchConditions"][0]["expression"] == \
        "request.userInfo.username == 'system:serviceaccount:fluxplane:fp-fluxplane'"
    assert policy["spec"]["validations"][0]["expression"] == \
        "has(oldObject.metadata.labels) && 'fluxplane.io/jit-grant' in oldObject.metadata.labels"
    assert policy["spec"]["failurePolicy"] == "Fail"
    binding = find(rendered["minimal"], "ValidatingAdmissionPolicyBinding")
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}


def test_the_admission_policy_admits_exactly_fluxplanes_jit_deletions(rendered):
    """Evaluate the policy's CEL as the API server would (cel-python): the match condition picks the workers'
    account only, the validation lets through a labelled binding only."""
    import celpy

    spec = find(rendered["minimal"], "ValidatingAdmissionPolicy")["spec"]
    env = celpy.Environment()
    [condition] = [env.program(env.compile(c["expression"])) for c in spec["matchConditions"]]
    [validation] = [env.program(env.compile(v["expression"])) for v in spec["validations"]]

    def matches(username: str) -> bool:
        return bool(condition.evaluate({"request": celpy.json_to_cel({"userInfo": {"username": username}})}))

    def admitted(metadata: dict) -> bool:
        return bool(validation.evaluate({"oldObject": celpy.json_to_cel({"metadata": metadata})}))

    assert matches("system:serviceaccount:fluxplane:fp-fluxplane")
    for other in ("system:serviceaccount:fluxplane:fp-fluxplane-watcher", "system:serviceaccount:other:fp-fluxplane",
                  "alice@example.com"):
        assert not matches(other), other  # people and other accounts are not limited by Fluxplane's policy
    assert admitted({"name": "jit-alice", "labels": {"fluxplane.io/jit-grant": "7"}})
    assert not admitted({"name": "team-admins", "labels": {"team": "a"}})
    assert not admitted({"name": "no-labels"})


def test_the_code_changes_the_cluster_only_where_rbac_expects():
    """Writes to the API go through KubeAdapter.patch/delete; if a new caller appears, revisit graph/apiaccess.py."""
    callers: dict[str, set[str]] = {"patch": set(), "delete": set()}
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for package in (p.rstrip("*") for p in shipped["include"] if p != "simulator*"):  # every product package
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or rel == "controlplane/kube.py":
                continue
            text = path.read_text()
            for verb in callers:
                if re.search(rf"adapter\.{verb}\(", text):
                    callers[verb].add(rel)
    assert callers["patch"] <= {"playbooks/fluxexec.py", "playbooks/changes/gitwork.py"}, callers
    assert callers["delete"] <= {"jit/sweep.py"}, callers
    base = (ROOT / "playbooks" / "changes" / "gitwork.py").read_text()
    # its patch is on a Flux source kind (the Kustomization's GitRepository or OCIRepository)
    assert 'find_resource(SOURCE_GROUP, source.get("kind") or "GitRepository"' in base


def test_extra_rules_are_read_only(helm):
    bad = {**MINIMAL, "rbac": {"extraRules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete"]}]}}
    with pytest.raises(helm.HelmError, match="extraRules"):
        render(helm, bad)


# ----------------------------------------------------------------------------------------------- values schema
def _values_paths(value, prefix=()) -> set[tuple[str, ...]]:
    out = {prefix} if prefix else set()
    if isinstance(value, dict):
        for key, item in value.items():
            out |= _values_paths(item, (*prefix, key))
    return out


def test_templates_reference_only_defined_values():
    values = _values_paths(yaml.safe_load((CHART / "values.yaml").read_text()))
    for template in (CHART / "templates").iterdir():
        for ref in re.findall(r"\.Values((?:\.[A-Za-z0-9_]+)+)", template.read_text()):
            path = tuple(ref.strip(".").split("."))
            assert path in values, f"{template.name}: .Values.{'.'.join(path)} is not in values.yaml"


@pytest.mark.parametrize("bad", [
    {"createPullRequest": "yes"},
    {"git": {"type": "azure_devops"}},
    {"git": {"connection": "Not A Name"}},
    {"playbooks": {"debug": True}},
    {"playbooks": {"scale": "off"}},
    {"approvals": {"gitops": -1}},
    {"worker": {"replicas": -1}},
    {"web": {"workers": 0}},
    {"migrations": {"mode": "always"}},
    {"image": {"pullPolicy": "Sometimes"}},
    {"baseUrl": "fluxplane.example.com"},
    {"extraEnv": {"lower_case": "1"}},
    {"secret": {"values": {"gitToken": "ghp_example"}}},
    {"unknownTopLevel": 1},
    # the issue's review: weaker security contexts, misspelt keys, wildcards, made-up zones, bad quantities, long names
    {"podSecurityContext": {"runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}}},
    {"podSecurityContext": {"runAsNonRoot": True, "runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}},
    {"podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}},
    {"securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": True,
                         "capabilities": {"drop": ["ALL"]}}},
    {"securityContext": {"allowPrivilegeEscalation": True, "readOnlyRootFilesystem": True,
                         "capabilities": {"drop": ["ALL"]}}},
    {"securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                         "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}},
    {"securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesytem": True,
                         "capabilities": {"drop": ["ALL"]}}},
    {"rbac": {"extraRules": [{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["list"]}]}},
    {"rbac": {"extraRules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["list"]}]}},
    {"rbac": {"extraRules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}},
    {"timeZone": "Europe/Atlantis"},
    {"web": {"resources": {"requests": {"cpu": "lots"}}}},
    {"worker": {"resources": {"limits": {"memroy": "1Gi"}}}},
    {"fullnameOverride": "f" * 80},
    {"nameOverride": "Not_A_Name"},
    {"image": {"repository": "ghcr.io/fluxplane/fluxplane", "digest": "latest"}},
    {"web": {"autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": 150}}},
    {"scheduler": {"livenessProbe": {"maxHeartbeatAgeSeconds": 1}}},
    {"web": {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone"}]}},
    {"networkPolicy": {"egress": {"redis": {"ports": [70000]}}}},
    {"migrations": {"activeDeadlineSeconds": 5}},
    {"rbac": {"jit": {"namespaces": ["Team A"]}}},
])
def test_schema_rejects_bad_values(helm, bad):
    values = {**MINIMAL, **bad}
    if "secret" in bad:
        values["secret"] = {**MINIMAL["secret"], **bad["secret"]}
    with pytest.raises(helm.HelmError, match="schema"):
        render(helm, values)


def test_git_types_are_the_providers_that_exist(helm):
    from controlplane.models import GitConnection

    schema = json.loads((CHART / "values.schema.json").read_text())
    assert sorted(schema["properties"]["git"]["properties"]["type"]["enum"]) == \
        sorted(GitConnection.Provider.values)


def test_time_zones_are_the_ones_python_knows(helm):
    schema = json.loads((CHART / "values.schema.json").read_text())
    zones = schema["properties"]["timeZone"]["enum"]
    assert "UTC" in zones and "Europe/Berlin" in zones and len(zones) > 300
    for zone in zones:
        zoneinfo.ZoneInfo(zone)  # every accepted zone loads
    assert find(render(helm, {**MINIMAL, "timeZone": "America/Sao_Paulo"}), "ConfigMap")["data"][
        "FLUXPLANE_TIME_ZONE"] == "America/Sao_Paulo"


def test_global_is_accepted_for_subcharts(helm):
    docs = render(helm, {**MINIMAL, "global": {"imageRegistry": "registry.example.com", "anything": [1, 2]}})
    assert find(docs, "Deployment", "-web")


@pytest.mark.parametrize(("extra", "message"), [
    ({"DATABASE_URL": "postgres://u:p@db/fp"}, r"extraEnv.DATABASE_URL is a secret .*secret.values.databaseUrl"),
    ({"REDIS_URL": "redis://:p@redis:6379/0"}, r"extraEnv.REDIS_URL is a secret .*secret.keys.redisUrl"),
    ({"FLUXPLANE_SECRET_KEY": "x" * 50}, r"extraEnv.FLUXPLANE_SECRET_KEY is a secret .*secret.values.secretKey"),
    ({"FLUXPLANE_FLUX_WEBHOOK_TOKEN": "t"}, r"extraEnv.FLUXPLANE_FLUX_WEBHOOK_TOKEN is a secret .*secret\."),
    ({"FLUXPLANE_GITLAB_TOKEN": "glpat-x"}, r"looks like a secret .*extraEnvFrom .*secret\.\*"),
    ({"FLUXPLANE_TIME_ZONE": "UTC"}, r"extraEnv.FLUXPLANE_TIME_ZONE is already set by the chart"),
    ({"FLUXPLANE_ALLOWED_HOSTS": "*"}, r"extraEnv.FLUXPLANE_ALLOWED_HOSTS is already set by the chart"),
])
def test_extra_env_refuses_secrets_and_duplicates(helm, extra, message):
    with pytest.raises(helm.HelmError, match=message):
        render(helm, {**MINIMAL, "extraEnv": extra})
    # the refusal is the same in job mode (the Job renders extraEnv too) and nothing half-rendered is returned
    with pytest.raises(helm.HelmError, match=message):
        render(helm, {**MINIMAL, "extraEnv": extra, "migrations": {"mode": "job"}})


def test_long_release_names_still_fit(helm):
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(MINIMAL, name="r" * 53, namespace=NAMESPACE)
    docs = [d for path, text in out.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]
    assert all(len(d["metadata"]["name"]) <= 63 for d in docs)
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"]
    assert len(set(names)) == 4 and all(n.endswith(("-web", "-worker", "-scheduler", "-watcher")) for n in names)


def test_lint_is_clean(helm):
    result = helm.lint(str(CHART), values=MINIMAL, strict=True, namespace=NAMESPACE)
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] > 1] == []  # 1 is INFO ("icon is recommended")


# ------------------------------------------------------------------------------------ against a real API server
@pytest.mark.kubectl
@pytest.mark.parametrize("case", CASES)
def test_server_side_dry_run_accepts_every_manifest(rendered, kubectl, case, tmp_path):
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy",
                      "ValidatingAdmissionPolicyBinding"}
    docs = [dict(d, metadata={"namespace": NAMESPACE, **d["metadata"]}) if d["kind"] not in cluster_scoped else d
            for d in rendered[case]]  # Helm sets the release namespace at install
    for namespace in {NAMESPACE} | {d["metadata"]["namespace"] for d in docs if "namespace" in d["metadata"]}:
        kubectl.run("apply", "-f", "-", input=yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": namespace}}))
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    out = kubectl.run("apply", "--dry-run=server", "-f", str(manifest)).stdout
    for doc in docs:
        assert f"{doc['metadata']['name']}" in out, (doc["kind"], out)
    assert out.count("(server dry run)") == len(docs)
