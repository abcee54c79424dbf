"""The Helm chart in deploy/chart, rendered by the real Helm engine (helm-python-sdk: Helm's Go SDK via ctypes).

Every rendered document is checked against the official Kubernetes client's models (no misspelt or unknown
field survives the round trip), against the application (roles, FLUXPLANE_* names in controlplane/settings.py,
the API verbs the code uses) and against a real API server: ``kubectl apply --dry-run=server`` on the simulator.
"""

from __future__ import annotations

import ast
import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from graph.kinds import DEFAULT_MANAGED_KINDS, FLUX_KINDS, OWNED_CHILD_KINDS
from graph.watch import WATCHED_CHILD_KINDS

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
    "secret": {"existingSecret": "fluxplane-env", "keys": {"databaseUrl": "database-url"}},
    "migrations": {"mode": "job", "resources": {"limits": {"memory": "256Mi"}}},
    "web": {"replicas": 3, "workers": 4},
    "worker": {"replicas": 5},
    "watcher": {"enabled": True},
    "service": {"type": "LoadBalancer", "port": 8080},
    "ingress": {"enabled": True, "className": "nginx", "annotations": {"cert-manager.io/cluster-issuer": "le"},
                "tls": [{"secretName": "fluxplane-tls", "hosts": ["fluxplane.example.com"]}]},
    "serviceAccount": {"name": "fluxplane-reader", "annotations": {"example.com/role": "reader"}},
    "rbac": {"extraRules": [{"apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors"],
                             "verbs": ["get", "list", "watch"]}]},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
    "podLabels": {"team": "platform"},
}
CASES = {"minimal": MINIMAL, "chart-secret": CHART_SECRET, "full": FULL}
ROLES = {"web": ["web"], "worker": ["worker"], "scheduler": ["scheduler"], "watcher": ["manage", "watch_clusters"]}


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
                ("ClusterRoleBinding", "fp-fluxplane"), ("Deployment", "fp-fluxplane-web"),
                ("Deployment", "fp-fluxplane-worker"), ("Deployment", "fp-fluxplane-scheduler"),
                ("Deployment", "fp-fluxplane-watcher")}
    expected.add(("ServiceAccount", "fluxplane-reader" if case == "full" else "fp-fluxplane"))
    if case == "chart-secret":
        expected.add(("Secret", "fp-fluxplane"))
    if case == "full":
        expected |= {("Ingress", "fp-fluxplane"), ("Job", "fp-fluxplane-migrate")}
    assert set(kinds) == expected
    assert len(kinds) == len(expected)


MODELS = {"ConfigMap": "V1ConfigMap", "Secret": "V1Secret", "Service": "V1Service",
          "ServiceAccount": "V1ServiceAccount", "ClusterRole": "V1ClusterRole",
          "ClusterRoleBinding": "V1ClusterRoleBinding", "Deployment": "V1Deployment", "Job": "V1Job",
          "Ingress": "V1Ingress"}


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
    assert find(docs, "Deployment", "-web")["spec"]["replicas"] == values.get("web", {}).get("replicas", 1)
    assert find(docs, "Deployment", "-worker")["spec"]["replicas"] == values.get("worker", {}).get("replicas", 2)
    for single in ("scheduler", "watcher"):
        spec = find(docs, "Deployment", f"-{single}")["spec"]
        assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    web = find(docs, "Deployment", "-web")["spec"]["template"]["spec"]
    service = find(docs, "Service")
    assert service["spec"]["selector"] == find(docs, "Deployment", "-web")["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert web["containers"][0]["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


@pytest.mark.parametrize("case", CASES)
def test_probes_ask_healthz_with_an_allowed_host(rendered, case):
    web = find(rendered[case], "Deployment", "-web")["spec"]["template"]["spec"]["containers"][0]
    first = CASES[case]["allowedHosts"][0].lstrip(".")
    for probe in ("readinessProbe", "livenessProbe"):
        get = web[probe]["httpGet"]
        assert get["path"] == "/healthz" and get["port"] == "http"
        assert get["httpHeaders"] == [{"name": "Host", "value": first}]


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
        names = {e["name"] for e in container["env"]}
        assert {"FLUXPLANE_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FLUXPLANE_ALLOWED_HOSTS"} <= names
        assert "envFrom" not in container  # a pre-install hook runs before the chart's ConfigMap exists
    else:
        assert [c["args"] for c in web["initContainers"]] == [["migrate"]]


def test_image_and_scheduling_values(rendered):
    for doc in workloads(rendered["full"]):
        spec = doc["spec"]["template"]["spec"]
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        assert spec["nodeSelector"] == FULL["nodeSelector"]
        assert spec["tolerations"] == FULL["tolerations"]
        assert spec["affinity"] == FULL["affinity"]
        for container in pod_containers(doc):
            assert container["image"] == "registry.example.com/fluxplane:1.2.3"
            assert container["imagePullPolicy"] == "Always"
    for doc in workloads(rendered["minimal"]):
        for container in pod_containers(doc):
            assert container["image"] == "fluxplane:0.1.0"  # the chart's appVersion


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
    account = find(docs, "ServiceAccount")["metadata"]["name"]
    for role in ("worker", "watcher"):
        assert find(docs, "Deployment", f"-{role}")["spec"]["template"]["spec"]["serviceAccountName"] == account
    for role in ("web", "scheduler"):
        spec = find(docs, "Deployment", f"-{role}")["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False and "serviceAccountName" not in spec


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
                if doc["kind"] == "Job" and var not in ("FLUXPLANE_SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
                    continue
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
def _plural(group: str, kind: str) -> str:
    from simulator.registry import BUILTINS

    for flux in FLUX_KINDS:
        if (flux.group, flux.kind) == (group, kind):
            return flux.plural
    return next(rt.plural for rt in BUILTINS if (rt.group, rt.kind) == (group, kind))


def _allowed(rules: list[dict]) -> set[tuple[str, str, str]]:
    out = set()
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.add((group, resource, verb))
    return out


def _needed() -> set[tuple[str, str, str]]:
    need = set()
    read = {(k.group, k.kind) for k in FLUX_KINDS} | set(DEFAULT_MANAGED_KINDS) | set(OWNED_CHILD_KINDS) | \
        set(WATCHED_CHILD_KINDS) | {("", "Event")}
    for group, kind in read:
        need |= {(group, _plural(group, kind), verb) for verb in ("get", "list", "watch")}
    need |= {(k.group, k.plural, "patch") for k in FLUX_KINDS}  # suspend, resume, reconcile
    need.add(("rbac.authorization.k8s.io", "rolebindings", "delete"))  # JIT sweep
    return need


def test_rbac_is_exactly_what_the_code_uses(rendered):
    role = find(rendered["minimal"], "ClusterRole")
    allowed = _allowed(role["rules"])
    assert not any("*" in entry for entry in allowed)
    assert allowed == _needed(), (sorted(_needed() - allowed), sorted(allowed - _needed()))
    binding = find(rendered["minimal"], "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fp-fluxplane", "namespace": NAMESPACE}]
    full = find(rendered["full"], "ClusterRole")
    assert _allowed(full["rules"]) - allowed == {("monitoring.coreos.com", "servicemonitors", v)
                                                for v in ("get", "list", "watch")}
    assert find(rendered["full"], "ClusterRoleBinding")["subjects"][0]["name"] == "fluxplane-reader"


def test_the_code_changes_the_cluster_only_where_rbac_expects():
    """Writes to the API go through KubeAdapter.patch/delete; if a new caller appears, revisit the ClusterRole."""
    callers: dict[str, set[str]] = {"patch": set(), "delete": set()}
    for package in ("controlplane", "gitops", "graph", "playbooks", "access", "alerts", "jit"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("simulator/") or "/migrations/" in rel or rel == "controlplane/kube.py":
                continue
            text = path.read_text()
            for verb in callers:
                if re.search(rf"adapter\.{verb}\(", text):
                    callers[verb].add(rel)
    assert callers["patch"] <= {"playbooks/fluxexec.py", "playbooks/changes/base.py"}, callers
    assert callers["delete"] <= {"jit/sweep.py"}, callers
    base = (ROOT / "playbooks" / "changes" / "base.py").read_text()
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
    {"git": {"type": "gitlab"}},
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
])
def test_schema_rejects_bad_values(helm, bad):
    values = {**MINIMAL, **bad}
    if "secret" in bad:
        values["secret"] = {**MINIMAL["secret"], **bad["secret"]}
    with pytest.raises(helm.HelmError, match="schema"):
        render(helm, values)


def test_lint_is_clean(helm):
    result = helm.lint(str(CHART), values=MINIMAL, strict=True, namespace=NAMESPACE)
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] > 1] == []  # 1 is INFO ("icon is recommended")


# ------------------------------------------------------------------------------------ against a real API server
@pytest.mark.kubectl
@pytest.mark.parametrize("case", CASES)
def test_server_side_dry_run_accepts_every_manifest(rendered, kubectl, case, tmp_path):
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": NAMESPACE}}))
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(rendered[case]))
    out = kubectl.run("apply", "--dry-run=server", "-n", NAMESPACE, "-f", str(manifest)).stdout
    for doc in rendered[case]:
        assert f"{doc['metadata']['name']}" in out, (doc["kind"], out)
    assert out.count("(server dry run)") == len(rendered[case])
