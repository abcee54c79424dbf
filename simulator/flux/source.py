"""source-controller: GitRepository from a local git repository, HelmRepository / OCIRepository / HelmChart from
the demo chart catalog, with artifacts and conditions as source-controller writes them."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import shutil
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from .. import errors
from ..store import Event, clone
from . import charts
from .common import (
    K_CHART,
    K_GIT,
    K_HELMREPO,
    K_OCI,
    REQUESTED_AT,
    SOURCE_GROUP,
    FluxController,
    del_condition,
    is_ready,
    latest_matching,
    parse_duration,
    rfc3339,
    set_condition,
)
from .events import EventRecorder
from .registry_oci import OCIRegistry, Pushed

log = logging.getLogger(__name__)
STORAGE_HOST = "http://source-controller.flux-system.svc.cluster.local."


class GitError(Exception):
    """A git command failed; the message is what the user sees in FetchFailed."""


def git(repo: Path | str, *args: str) -> str:
    """Run git with an argument list (never a shell) and return stdout."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin:/usr/local/bin", "GIT_TERMINAL_PROMPT": "0",
                               "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1"})
    if proc.returncode != 0:
        raise GitError(proc.stderr.strip() or f"git {args[0]} failed")
    return proc.stdout


def repo_path(url: str) -> Path:
    """A local repository from `spec.url`: a plain path or a file:// URL (other schemes are not simulated)."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    if "://" in url or url.startswith("git@"):
        raise GitError(f"unable to clone '{url}': the simulator only reads local repositories (path or file://)")
    return Path(url)


class ArtifactStorage:
    """Where fetched sources are kept: one extracted directory per object and revision under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def dir_for(self, kind: str, namespace: str, name: str, revision: str) -> Path:
        rid = revision.rpartition(":")[2] or revision
        return self.root / kind.lower() / namespace / name / rid

    def git_artifact(self, repo: Path, sha: str, kind: str, namespace: str, name: str,
                     revision: str) -> tuple[Path, str, int]:
        """Extract commit `sha` (via `git archive`) into the cache; returns (dir, sha256 digest, size)."""
        target = self.dir_for(kind, namespace, name, revision)
        tarball = target.with_suffix(".tar.gz")
        if not (target.is_dir() and tarball.exists()):
            proc = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", sha], capture_output=True,
                                  timeout=120, env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/nonexistent"})
            if proc.returncode != 0:
                raise GitError(proc.stderr.decode(errors="replace").strip() or "git archive failed")
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tf:
                tf.extractall(tmp, filter="data")
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
            # mtime=0 keeps the tarball, hence the digest, identical for the same commit.
            tarball.write_bytes(gzip.compress(proc.stdout, mtime=0))
        data = tarball.read_bytes()
        return target, "sha256:" + hashlib.sha256(data).hexdigest(), len(data)


def _artifact(kind: str, ns: str, name: str, filename: str, revision: str, digest: str, size: int) -> dict:
    path = f"{kind.lower()}/{ns}/{name}/{filename}"
    return {"path": path, "url": f"{STORAGE_HOST}/{path}", "revision": revision, "digest": digest,
            "lastUpdateTime": rfc3339(), "size": size}


class SourceController(FluxController):
    """GitRepository, HelmRepository, OCIRepository and HelmChart in one loop (they share the storage)."""

    resources = (K_GIT, K_HELMREPO, K_OCI, K_CHART)

    def __init__(self, storage: ArtifactStorage, recorder: EventRecorder, registry: OCIRegistry | None = None) -> None:
        super().__init__()
        self.storage = storage
        self.recorder = recorder
        self.registry = registry

    def handle(self, event: Event) -> None:
        m = event.obj["metadata"]
        ns = m.get("namespace", "")
        if event.type == "DELETED":
            self.forget(event.key, ns, m["name"])
            return
        self.enqueue(event.key, ns, m["name"])
        if event.key == K_HELMREPO and self.store is not None:
            # A repository's new index can satisfy a chart that failed before.
            for hc in self.store.list_entries(self.store.resolve(K_CHART), None)[0]:
                ref = hc.obj.get("spec", {}).get("sourceRef") or {}
                if ref.get("kind") == "HelmRepository" and ref.get("name") == m["name"] and \
                        hc.obj["metadata"].get("namespace") == ns:
                    self.enqueue(K_CHART, ns, hc.obj["metadata"]["name"])

    def reconcile(self, key: str, namespace: str, name: str) -> None:
        assert self.store is not None
        obj = self.store.peek_key(key, namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        if (obj.get("spec") or {}).get("suspend"):
            return  # suspended sources keep their last artifact and conditions
        if not self.should_run(key, obj) and is_ready(obj):
            return  # not-ready sources re-run on any event: their inputs (a repository, a tag) may have come
        handler = {K_GIT: self._git, K_HELMREPO: self._helmrepo, K_OCI: self._oci, K_CHART: self._chart}[key]
        status = clone(obj.get("status") or {})
        interval = parse_duration((obj.get("spec") or {}).get("interval"), 60.0)
        ok = handler(obj, status)
        ann = obj["metadata"].get("annotations") or {}
        if ann.get(REQUESTED_AT):
            status["lastHandledReconcileAt"] = ann[REQUESTED_AT]
        self._write(obj, status)
        # A failed fetch is retried on the interval, as source-controller does (no separate retryInterval).
        self.done(key, obj, interval if ok else min(interval, 30.0))

    def _write(self, obj: dict, status: dict) -> None:
        if status == obj.get("status"):
            return
        new = clone(obj)
        new["status"] = status
        try:
            self.store.update_status(new)  # type: ignore[union-attr]
        except errors.ApiError as e:
            log.debug("status of %s not written: %s", obj["metadata"]["name"], e)

    # ------------------------------------------------------------ outcomes
    def _succeeded(self, obj: dict, status: dict, artifact: dict, message: str, reason: str = "Succeeded") -> bool:
        gen = obj["metadata"].get("generation", 1)
        old_rev = (status.get("artifact") or {}).get("revision")
        if old_rev == artifact["revision"] and status.get("artifact"):
            artifact = {**artifact, "lastUpdateTime": status["artifact"].get("lastUpdateTime",
                                                                            artifact["lastUpdateTime"])}
        status["artifact"] = artifact
        status["observedGeneration"] = gen
        set_condition(status, "Ready", "True", reason, message, gen)
        set_condition(status, "ArtifactInStorage", "True", "Succeeded", message, gen)
        for t in ("Reconciling", "Stalled", "FetchFailed", "BuildFailed", "ArtifactOutdated"):
            del_condition(status, t)
        if old_rev != artifact["revision"]:
            self.recorder.record(obj, "Normal", "NewArtifact", message, "source-controller", artifact["revision"])
        return True

    def _failed(self, obj: dict, status: dict, cond: str, reason: str, message: str) -> bool:
        gen = obj["metadata"].get("generation", 1)
        was = next((c for c in status.get("conditions") or [] if c.get("type") == cond), None)
        set_condition(status, cond, "True", reason, message, gen)
        set_condition(status, "Ready", "False", reason, message, gen)
        set_condition(status, "Reconciling", "True", "ProgressingWithRetry", message, gen)
        status["observedGeneration"] = gen
        if not was or was.get("message") != message:
            self.recorder.record(obj, "Warning", reason, message, "source-controller")
        return False

    # ------------------------------------------------------------ GitRepository
    def _resolve_ref(self, repo: Path, ref: dict) -> tuple[str, str]:
        """(revision prefix, commit sha) for spec.ref, in source-controller's precedence:
        commit > name > semver > tag > branch (default master)."""
        if ref.get("commit"):
            sha = git(repo, "rev-parse", "--verify", f"{ref['commit']}^{{commit}}").strip()
            prefix = ref.get("branch") or ""
            return prefix, sha
        if ref.get("name"):
            sha = git(repo, "rev-parse", "--verify", f"{ref['name']}^{{commit}}").strip()
            return ref["name"], sha
        if ref.get("semver"):
            tags = git(repo, "tag", "--list").split()
            tag = latest_matching(tags, ref["semver"])
            if tag is None:
                raise GitError(f"no match found for semver: {ref['semver']}")
            return tag, git(repo, "rev-parse", "--verify", f"refs/tags/{tag}^{{commit}}").strip()
        if ref.get("tag"):
            return ref["tag"], git(repo, "rev-parse", "--verify", f"refs/tags/{ref['tag']}^{{commit}}").strip()
        branch = ref.get("branch") or "master"
        try:
            sha = git(repo, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}").strip()
        except GitError as e:
            raise GitError(f"unable to clone: couldn't find remote ref 'refs/heads/{branch}'") from e
        return branch, sha

    def _git(self, obj: dict, status: dict) -> bool:
        m, spec = obj["metadata"], obj.get("spec") or {}
        url = str(spec.get("url") or "")
        try:
            repo = repo_path(url)
            if not repo.exists():
                raise GitError(f"unable to clone '{url}': repository not found")
            prefix, sha = self._resolve_ref(repo, spec.get("ref") or {})
            revision = f"{prefix}@sha1:{sha}" if prefix else f"sha1:{sha}"
            _, digest, size = self.storage.git_artifact(repo, sha, "GitRepository", m["namespace"], m["name"],
                                                        revision)
        except GitError as e:
            return self._failed(obj, status, "FetchFailed", "GitOperationFailed",
                                f"failed to checkout and determine revision: {e}")
        try:
            subject = git(repo, "log", "-1", "--format=%s", sha).strip()
        except GitError:
            subject = ""
        artifact = _artifact("GitRepository", m["namespace"], m["name"], f"{sha}.tar.gz", revision, digest, size)
        ok = self._succeeded(obj, status, artifact, f"stored artifact for revision '{revision}'")
        if subject:
            status["artifact"].setdefault("metadata", {})["commit.message"] = subject[:200]
        return ok

    # ------------------------------------------------------------ HelmRepository
    def _helmrepo(self, obj: dict, status: dict) -> bool:
        m, spec = obj["metadata"], obj.get("spec") or {}
        url = str(spec.get("url") or "")
        if spec.get("type") == "oci":
            # OCI HelmRepositories are static since Flux 2.3: no artifact, no conditions.
            return True
        if charts.repository_charts(url) is None:
            return self._failed(obj, status, "FetchFailed", "IndexationFailed",
                                f"failed to fetch Helm repository index: failed to cache index to temporary file: "
                                f"failed to fetch {url.rstrip('/')}/index.yaml : the simulator's chart catalog "
                                f"has no repository at this URL")
        digest = charts.index_digest(url)
        revision = f"sha256:{digest}"
        artifact = _artifact("HelmRepository", m["namespace"], m["name"], f"index-{digest}.yaml", revision,
                             revision, 1024 * len(charts.repository_charts(url) or []))
        return self._succeeded(obj, status, artifact, f"stored artifact: revision '{revision}'")

    # ------------------------------------------------------------ OCIRepository
    def _oci(self, obj: dict, status: dict) -> bool:
        m, spec = obj["metadata"], obj.get("spec") or {}
        url = str(spec.get("url") or "")
        chart = charts.oci_chart(url)
        if chart is None and self.registry is not None:
            tag = str((spec.get("ref") or {}).get("tag") or "latest")
            pushed = self.registry.resolve(url, tag)
            if pushed is not None:
                return self._oci_pushed(obj, status, tag, pushed)
        if chart is None:
            return self._failed(obj, status, "FetchFailed", "OCIArtifactPullFailed",
                                f"failed to determine artifact digest: GET {url}: MANIFEST_UNKNOWN: the "
                                f"simulator's chart catalog has no OCI repository at this URL")
        ref = spec.get("ref") or {}
        if ref.get("semver"):
            tag = chart.resolve(ref["semver"])
        elif ref.get("tag") and ref["tag"] != "latest":
            tag = ref["tag"] if ref["tag"] in chart.versions else None
        else:
            tag = chart.resolve(None)
        if tag is None:
            want = ref.get("semver") or ref.get("tag")
            return self._failed(obj, status, "FetchFailed", "ReadOperationFailed",
                                f"failed to determine the artifact tag for '{url}': no match found for '{want}'")
        digest = chart.digest(tag)
        revision = f"{tag}@sha256:{digest}"
        artifact = _artifact("OCIRepository", m["namespace"], m["name"], f"{digest}.tar.gz", revision,
                             f"sha256:{digest}", 4096)
        artifact["metadata"] = {"org.opencontainers.image.version": tag}
        return self._succeeded(obj, status, artifact, f"stored artifact for digest '{revision}'")

    def _oci_pushed(self, obj: dict, status: dict, tag: str, pushed: Pushed) -> bool:
        """An artifact pushed with `flux push artifact`: extracted for the Kustomizations, annotations kept."""
        m = obj["metadata"]
        revision = f"{tag}@{pushed.digest}"
        target = self.storage.dir_for("OCIRepository", m["namespace"], m["name"], revision)
        if not target.is_dir():
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with tarfile.open(pushed.tarball, "r:gz") as tf:
                tf.extractall(tmp, filter="data")
            tmp.rename(target)
        size = pushed.tarball.stat().st_size
        artifact = _artifact("OCIRepository", m["namespace"], m["name"], f"{pushed.digest.partition(':')[2]}.tar.gz",
                             revision, pushed.digest, size)
        artifact["metadata"] = dict(pushed.annotations)
        return self._succeeded(obj, status, artifact, f"stored artifact for digest '{revision}'")

    # ------------------------------------------------------------ HelmChart
    def _chart(self, obj: dict, status: dict) -> bool:
        assert self.store is not None
        m, spec = obj["metadata"], obj.get("spec") or {}
        ref = spec.get("sourceRef") or {}
        ns = m["namespace"]
        status["observedChartName"] = spec.get("chart", "")
        if ref.get("kind") != "HelmRepository":
            return self._failed(obj, status, "BuildFailed", "ChartPackageError",
                                f"the simulator builds charts only from HelmRepository sources, not "
                                f"{ref.get('kind')}")
        repo = self.store.peek_key(K_HELMREPO, ns, ref.get("name", ""))
        if repo is None:
            return self._failed(obj, status, "FetchFailed", "SourceUnavailable",
                                f"failed to get source: HelmRepository.{SOURCE_GROUP} \"{ref.get('name')}\" "
                                f"not found")
        url = str((repo.get("spec") or {}).get("url") or "")
        oci = (repo.get("spec") or {}).get("type") == "oci"
        if not oci and not is_ready(repo):
            return self._failed(obj, status, "FetchFailed", "SourceUnavailable",
                                f"HelmRepository '{ns}/{ref.get('name')}' is not ready")
        chart = next((c for c in charts.repository_charts(url) or [] if c.name == spec.get("chart")), None)
        want = spec.get("version") or "*"
        version = chart.resolve(want) if chart else None
        if chart is None or version is None:
            return self._failed(obj, status, "BuildFailed", "InvalidChartReference",
                                f"invalid chart reference: failed to get chart version for remote reference: "
                                f"no '{spec.get('chart')}' chart with version matching '{want}' found")
        status["observedSourceArtifactRevision"] = ((repo.get("status") or {}).get("artifact") or {}).get(
            "revision", "")
        artifact = _artifact("HelmChart", ns, m["name"], f"{chart.name}-{version}.tgz", version,
                             f"sha256:{chart.digest(version)}", 8192)
        return self._succeeded(obj, status, artifact, f"pulled '{chart.name}' chart with version '{version}'",
                               reason="ChartPullSucceeded")


__all__ = ["ArtifactStorage", "GitError", "SourceController", "git", "repo_path"]
