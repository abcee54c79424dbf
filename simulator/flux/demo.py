"""The demo: flux2-kustomize-helm-example committed to a real git repository and reconciled by the simulated
Flux controllers, with origin annotations on and one deliberately unhealthy app.

    demo = start_demo(Path("/tmp/fluxplane-demo"), "127.0.0.1", 6443)
    print(demo.api_url, demo.repo.bare)
    demo.stop()
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from ruamel.yaml import YAML

from .. import Simulator
from . import FluxControllers, add_flux_controllers
from .common import is_ready

FIXTURE = "flux2-kustomize-helm-example"
VENDORED = Path(__file__).resolve().parent / "demo_repo"
CLUSTER_PATH = "clusters/staging"
AUTHOR = ("Fluxplane Demo", "demo@fluxplane.local")
FLUX_VERSION = {"source-controller": "v1.6.2", "kustomize-controller": "v1.6.1", "helm-controller": "v1.3.0",
                "notification-controller": "v1.6.0"}

# The deliberately unhealthy app: a podinfo release whose image tag carries the simulator's "broken" marker
# (ImagePullBackOff), with a short timeout and one retry so it turns red (InstallFailed, then Stalled
# RetriesExceeded, and its Kustomization HealthCheckFailed) within about a minute of the demo starting.
BROKEN_APP = {
    "apps/checkout/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: checkout
resources:
  - namespace.yaml
  - repository.yaml
  - release.yaml
""",
    "apps/checkout/namespace.yaml": """\
apiVersion: v1
kind: Namespace
metadata:
  name: checkout
  labels:
    toolkit.fluxcd.io/tenant: dev-team
""",
    "apps/checkout/repository.yaml": """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: checkout
spec:
  interval: 5m
  url: https://stefanprodan.github.io/podinfo
""",
    "apps/checkout/release.yaml": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: checkout
  namespace: checkout
spec:
  releaseName: checkout
  interval: 10m
  # Short on purpose: the demo should show a failed release quickly.
  timeout: 20s
  chart:
    spec:
      chart: podinfo
      version: "6.9.x"
      sourceRef:
        kind: HelmRepository
        name: podinfo
  install:
    remediation:
      retries: 1
  values:
    replicaCount: 2
    image:
      # This tag does not exist: the pods stay in ImagePullBackOff.
      tag: 6.9.2-broken
""",
    "clusters/staging/checkout.yaml": """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: checkout
  namespace: flux-system
spec:
  interval: 10m0s
  retryInterval: 2m0s
  dependsOn:
    - name: infra-configs
  sourceRef:
    kind: GitRepository
    name: flux-system
  path: ./apps/checkout
  prune: true
  wait: true
  timeout: 1m0s
""",
}


@dataclass
class DemoRepo:
    """The demo's git repositories: a working clone to commit in and the bare repository Flux reads."""

    workdir: Path
    work: Path
    bare: Path
    branch: str = "main"
    path: str = f"./{CLUSTER_PATH}"

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def git(self, *args: str) -> str:
        """Run git in the working clone (argument list, never a shell)."""
        return _git(self.work, *args)

    def commit_and_push(self, message: str) -> str:
        """Commit everything in the working clone and push it to the bare repository; returns the sha."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", "origin", self.branch)
        return self.git("rev-parse", "HEAD").strip()


def _git(repo: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1],
           "GIT_COMMITTER_NAME": AUTHOR[0], "GIT_COMMITTER_EMAIL": AUTHOR[1]}
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def fixtures_dir() -> Path:
    """`$FLUXPLANE_FIXTURES_DIR`, else the copy in `tests/fixtures/flux-examples` (so a clone is self-contained),
    else `<repository>/../shared/fixtures`."""
    env = os.environ.get("FLUXPLANE_FIXTURES_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    vendored = repo / "tests" / "fixtures" / "flux-examples"
    return vendored if vendored.is_dir() else repo.parent / "shared" / "fixtures"


def fixture_source() -> Path:
    """The shared fixture when present, else the copy vendored in this package."""
    shared = fixtures_dir() / FIXTURE
    return shared if (shared / CLUSTER_PATH).is_dir() else VENDORED


def sync_objects(url: str, interval: str = "1m0s", branch: str = "main", path: str = f"./{CLUSTER_PATH}") -> list[dict]:
    """The GitRepository and Kustomization `flux-system/flux-system` that `flux bootstrap` writes into
    gotk-sync.yaml (fluxcd/flux2 pkg/manifestgen/sync), pointed at a local repository and with origin
    annotations on. No secretRef: the repository is local."""
    return [
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": "flux-system", "namespace": "flux-system"},
         "spec": {"interval": interval, "ref": {"branch": branch}, "url": url}},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "flux-system", "namespace": "flux-system"},
         "spec": {"interval": "10m0s", "path": path, "prune": True, "buildMetadata": ["originAnnotations"],
                  "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}},
    ]


def components() -> list[dict]:
    """A small stand-in for gotk-components.yaml: the flux-system Namespace and the controller Deployments
    (their CRDs are built into the simulator), so the overlay's patches have something to patch."""
    out: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "flux-system", "labels": {"app.kubernetes.io/instance": "flux-system",
                                          "app.kubernetes.io/part-of": "flux"}}}]
    for name, version in FLUX_VERSION.items():
        labels = {"app": name}
        out.append({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": "flux-system",
                                 "labels": {"app.kubernetes.io/component": name, "app.kubernetes.io/part-of": "flux",
                                            "control-plane": "controller"}},
                    "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                             "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                                 "name": "manager", "image": f"ghcr.io/fluxcd/{name}:{version}",
                                 "args": ["--events-addr=http://notification-controller.flux-system.svc.cluster."
                                          "local./", "--watch-all-namespaces=true", "--log-level=info"],
                                 "ports": [{"containerPort": 8080, "name": "http-prom"}]}]}}}})
    return out


def _dump_all(docs: list[dict]) -> str:
    return "---\n" + "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


def _origin_annotations_on(path: Path) -> None:
    """Add `spec.buildMetadata: [originAnnotations]` to every Kustomization in `path`, keeping comments."""
    ry = YAML()
    ry.preserve_quotes = True
    docs = list(ry.load_all(path.read_text()))
    changed = False
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "Kustomization" and "toolkit.fluxcd.io" in str(d.get("apiVersion")):
            d["spec"]["buildMetadata"] = ["originAnnotations"]
            changed = True
    if changed:
        buf = io.StringIO()
        ry.explicit_start = True
        ry.dump_all(docs, buf)
        path.write_text(buf.getvalue())


def build_demo(workdir: Path | str, source_interval: str = "1m0s") -> DemoRepo:
    """Create (or reuse) the demo repositories under `workdir`: `gitops` (working clone) and `gitops.git`.

    An existing bare repository is reused as is, so a restarted demo keeps what was merged into it.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    repo = DemoRepo(workdir, workdir / "gitops", workdir / "gitops.git")
    if (repo.bare / "HEAD").exists():
        if not (repo.work / ".git").exists():
            shutil.rmtree(repo.work, ignore_errors=True)
            _git(workdir, "clone", "-q", str(repo.bare), str(repo.work))
        return repo
    shutil.rmtree(repo.work, ignore_errors=True)
    shutil.copytree(fixture_source(), repo.work, ignore=shutil.ignore_patterns("NOTICE.md", ".git"))
    for p in repo.work.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)  # the shared fixtures are read-only
    for rel, text in BROKEN_APP.items():
        (repo.work / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo.work / rel).write_text(text)
    fs = repo.work / CLUSTER_PATH / "flux-system"
    (fs / "gotk-components.yaml").write_text("# Stand-in for the Flux components (written by the demo).\n"
                                             + _dump_all(components()))
    (fs / "gotk-sync.yaml").write_text("# Written by the demo as `flux bootstrap` would.\n"
                                       + _dump_all(sync_objects(repo.url, source_interval)))
    for f in sorted((repo.work / CLUSTER_PATH).glob("*.yaml")):
        _origin_annotations_on(f)
    _git(workdir, "init", "-q", "-b", repo.branch, str(repo.work))
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Add flux2-kustomize-helm-example (staging) with a demo app")
    _git(workdir, "init", "-q", "--bare", "-b", repo.branch, str(repo.bare))
    repo.git("remote", "add", "origin", str(repo.bare))
    repo.git("push", "-q", "origin", repo.branch)
    return repo


@dataclass
class Demo:
    """A running demo: the simulator serving the Kubernetes API, its Flux controllers and the git repos."""

    sim: Simulator
    flux: FluxControllers
    repo: DemoRepo
    api_url: str

    @property
    def bare_repo(self) -> Path:
        return self.repo.bare

    @property
    def work_repo(self) -> Path:
        return self.repo.work

    def write_kubeconfig(self, path: Path | str) -> Path:
        """A kubeconfig for kubectl and the Python client (no auth: the simulator does not check any)."""
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "fluxplane-sim",
               "clusters": [{"name": "fluxplane-sim", "cluster": {"server": self.api_url}}],
               "users": [{"name": "fluxplane-sim", "user": {}}],
               "contexts": [{"name": "fluxplane-sim", "context": {"cluster": "fluxplane-sim",
                                                                    "user": "fluxplane-sim"}}]}
        p = Path(path)
        p.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return p

    def wait_ready(self, timeout: float = 60.0, names: tuple[tuple[str, str, str], ...] = (
            ("kustomizations", "flux-system", "apps"), ("helmreleases", "podinfo", "podinfo"),
            ("helmreleases", "cert-manager", "cert-manager"), ("helmreleases", "ingress-nginx", "ingress-nginx"))
            ) -> bool:
        """Block until the healthy part of the demo is Ready (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(is_ready(self.sim.store.peek(kind, ns, name)) for kind, ns, name in names):
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        self.sim.stop(save=False)
        self.flux.stop()


def start_demo(workdir: Path | str, host: str = "127.0.0.1", port: int = 0, event_webhook_url: str | None = None,
               source_interval: str = "1m0s") -> Demo:
    """Build (or reuse) the demo repository, start a simulator with the Flux controllers on host:port
    (0 = ephemeral) and bootstrap `flux-system` for ./clusters/staging. Returns at once; the cluster
    converges in a few seconds (see Demo.wait_ready)."""
    repo = build_demo(workdir, source_interval)
    sim = Simulator()
    flux = add_flux_controllers(sim, Path(workdir).resolve(), event_webhook_url, dependency_requeue=2.0)
    url = sim.start(host, port)
    for obj in sync_objects(repo.url, source_interval):
        if sim.store.peek(obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]) is None:
            sim.store.create(obj)
    return Demo(sim, flux, repo, url)
