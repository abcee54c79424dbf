"""Update chart version: the versions a HelmRepository's index offers (read over real HTTP) are shown, and a
version or range none of them satisfies is refused; without a readable index only the syntax is checked."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.utils import timezone

from controlplane.models import Cluster
from gitops import InvalidInput
from gitops.semver import latest_matching, semver_match
from graph.models import KubeObject
from playbooks.changes.library import UpdateHelmChartVersion

INDEX = b"""apiVersion: v1
entries:
  podinfo:
  - {name: podinfo, version: 6.9.2}
  - {name: podinfo, version: 6.8.0}
  - {name: podinfo, version: 6.10.0-rc.1}
  - {name: podinfo, version: 5.2.1}
  redis:
  - {name: redis, version: 18.0.0}
"""


@pytest.fixture
def helm_repo():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path != "/charts/index.yaml":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(INDEX)))
            self.end_headers()
            self.wfile.write(INDEX)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cache.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/charts"
    server.shutdown()
    cache.clear()


def release_with_repo(url: str, kind: str = "HelmRepository") -> KubeObject:
    now = timezone.now()
    cluster = Cluster.objects.create(name="c", connection="simulator", server_url="http://127.0.0.1:9")

    def row(kind, name, group, spec):
        return KubeObject.objects.create(cluster=cluster, uid=f"{kind}-{name}", api_group=group, api_version="v1",
                                         kind=kind, namespace="podinfo", name=name, spec=spec, first_seen=now,
                                         last_seen=now)

    row("HelmRepository", "podinfo", "source.toolkit.fluxcd.io", {"url": url})
    return row("HelmRelease", "podinfo", "helm.toolkit.fluxcd.io",
               {"chart": {"spec": {"chart": "podinfo", "version": ">=1.0.0",
                                   "sourceRef": {"kind": kind, "name": "podinfo"}}}})


@pytest.mark.parametrize("version,constraint,ok", [
    ("6.9.2", "6.x", True), ("6.9.2", "~6.8", False), ("6.8.5", "~6.8", True), ("6.9.2", "^6.0.0", True),
    ("7.0.0", "^6.0.0", False), ("6.9.2", ">=6.0.0 <7.0.0", True), ("6.10.0-rc.1", ">=6.0.0", False),
    ("6.10.0-rc.1", ">=6.10.0-alpha", True), ("5.2.1", "5.x || 6.x", True), ("6.9.2", "*", True),
])
def test_constraints(version, constraint, ok):
    assert semver_match(version, constraint) is ok


def test_latest_matching_picks_the_newest_release():
    assert latest_matching(["6.8.0", "6.9.2", "6.10.0-rc.1", "5.2.1"], "6.x") == "6.9.2"
    assert latest_matching(["6.8.0"], "7.x") is None


@pytest.mark.django_db
def test_offered_versions_are_shown_and_checked(helm_repo):
    release = release_with_repo(helm_repo)
    assert UpdateHelmChartVersion.warnings(release) == [
        f"{helm_repo} offers: 6.10.0-rc.1, 6.9.2, 6.8.0, 5.2.1"]
    assert UpdateHelmChartVersion.check_version(release, "6.x") == "6.9.2"
    assert UpdateHelmChartVersion.check_version(release, "5.2.1") == "5.2.1"
    with pytest.raises(InvalidInput, match=r"no version of the chart in .* matches '9.x' \(newest offered: 6.10"):
        UpdateHelmChartVersion.check_version(release, "9.x")


@pytest.mark.django_db
def test_without_a_readable_index_only_the_syntax_is_checked():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/charts"
    release = release_with_repo(dead)
    assert "are not known (cannot read" in UpdateHelmChartVersion.warnings(release)[0]
    assert UpdateHelmChartVersion.check_version(release, "9.x") is None


@pytest.mark.django_db
def test_oci_chart_sources_have_no_index(helm_repo):
    release = release_with_repo(helm_repo, kind="OCIRepository")
    assert "not a HelmRepository" in UpdateHelmChartVersion.warnings(release)[0]
