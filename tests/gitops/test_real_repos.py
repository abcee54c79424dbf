"""The git engine on a copy of a large real repository (bjw-s-home-ops: app-template charts, anchors, comments in
lists, components, postBuild substitutions, ``matchType: =``): edits change only their lines, anchors stay, objects
are located, values paths are proven by rendering charts shaped like the real ones (tests/fixtures/charts)."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from gitops import InvalidInput, NotEditable, helmvalues, validate, yamledit
from gitops.locate import KustomizationRef, Location, ObjectRef, locate
from gitops.yamldoc import documents, edit_document
from simulator.flux.demo import fixtures_dir

BJW = fixtures_dir() / "bjw-s-home-ops"
CHARTS = Path(__file__).parents[1] / "fixtures" / "charts"
ATUIN = "kubernetes/apps/selfhosted/atuin/app/helmrelease.yaml"
KARAKEEP = "kubernetes/apps/selfhosted/karakeep/app/helmrelease.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "home-ops"
    shutil.copytree(BJW, target, ignore=shutil.ignore_patterns(".git"))
    return target


def _changed(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) of a line diff."""
    removed, added = [], []
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += before.splitlines()[i1:i2]
            added += after.splitlines()[j1:j2]
    return removed, added


def _helmreleases() -> list[tuple[str, int]]:
    out = []
    for path in sorted(BJW.rglob("*.yaml")):
        try:
            docs = documents(path.read_text())
        except Exception:  # noqa: BLE001, S112 — files that are not YAML are not HelmReleases
            continue
        out += [(str(path.relative_to(BJW)), i) for i, d in enumerate(docs)
                if isinstance(d, dict) and d.get("kind") == "HelmRelease"]
    return out


HELMRELEASES = _helmreleases()


def test_the_fixture_has_many_helmreleases() -> None:
    assert len(HELMRELEASES) > 70


@pytest.mark.parametrize(("path", "index"), HELMRELEASES, ids=[p for p, _ in HELMRELEASES])
def test_a_new_values_key_adds_only_its_lines(repo: Path, path: str, index: int) -> None:
    before = (repo / path).read_text()
    loc = Location(path, index, str(Path(path).parent))
    yamledit.merge_values(str(repo), loc, {"fluxplane": {"probe": {"enabled": True}}})
    removed, added = _changed(before, (repo / path).read_text())
    assert removed == []
    assert [line.strip() for line in added] == ["fluxplane:", "probe:", "enabled: true"]
    assert documents((repo / path).read_text())[index]["spec"]["values"]["fluxplane"] == {"probe": {"enabled": True}}


CASES = {
    # name: (file, document, original text that must survive, mutation, exact removed, exact added)
    "comment after a list dash": (
        "kubernetes/apps/flux-system/flux-instance/app/helmrelease.yaml", 0,
        "          - # Cancel health checks on new Kustomizations revisions\n",
        lambda t: t["spec"]["values"].__setitem__("replicaCount", 2), [], ["    replicaCount: 2"]),
    "null value": (
        "kubernetes/apps/kube-system/k8tz/app/helmrelease.yaml", 0, "    namespace: null\n",
        lambda t: t["spec"]["values"].__setitem__("replicaCount", 3), ["    replicaCount: 1"],
        ["    replicaCount: 3"]),
    "anchor changed in place": (
        ATUIN, 0, "                    port: *port\n",
        lambda t: t["spec"]["values"]["controllers"]["atuin"]["containers"]["app"]["env"].__setitem__(
            "ATUIN_PORT", 8889),
        ["              ATUIN_PORT: &port 8888"], ["              ATUIN_PORT: &port 8889"]),
    "alias user changes the anchor": (
        ATUIN, 0, "            port: *port\n",
        lambda t: t["spec"]["values"]["service"]["app"]["ports"]["http"].__setitem__("port", 9000),
        ["              ATUIN_PORT: &port 8888"], ["              ATUIN_PORT: &port 9000"]),
    "new key beside a list with dashes": (
        ATUIN, 0, "                  - ALL\n",
        lambda t: t["spec"]["values"]["controllers"]["atuin"]["containers"]["app"]["securityContext"].__setitem__(
            "privileged", False), [], ["              privileged: false"]),
}


@pytest.mark.parametrize("name", CASES)
def test_surgical_edits(repo: Path, name: str) -> None:
    path, index, kept, mutate, want_removed, want_added = CASES[name]
    before = (repo / path).read_text()
    notes: list[str] = []
    after = edit_document(before, index, mutate, notes)
    removed, added = _changed(before, after)
    assert (removed, added) == (want_removed, want_added)
    assert kept in after
    if "anchor" in name:
        assert len(notes) == 2 and all("alias *port" in n for n in notes)
        values = documents(after)[0]["spec"]["values"]
        assert values["service"]["app"]["ports"]["http"]["port"] == int(want_added[0].split()[-1])


def test_flow_maps_are_left_as_written(repo: Path) -> None:
    path = repo / ATUIN
    text = path.read_text().replace("              capabilities:\n                drop:\n                  - ALL\n",
                                    '              capabilities: { drop: ["ALL"] }\n')
    path.write_text(text)
    loc = Location(ATUIN, 0, str(Path(ATUIN).parent))
    yamledit.merge_values(str(repo), loc, {"controllers": {"atuin": {"containers": {"app": {
        "resources": {"limits": {"memory": "512Mi"}}, "securityContext": {"runAsUser": 1000}}}}}})
    removed, added = _changed(text, path.read_text())
    assert removed == ["                memory: 256Mi"]
    assert [a.strip() for a in added] == ["memory: 512Mi", "runAsUser: 1000"]
    assert '{ drop: ["ALL"] }' in path.read_text()


def test_edit_accepts_and_keeps_anchors(repo: Path) -> None:
    kz = KustomizationRef(path="./kubernetes/apps/selfhosted/atuin/app", target_namespace="selfhosted")
    loc = locate(str(repo), ObjectRef("HelmRelease", "atuin", "selfhosted"), kz)
    source = yamledit.source_document(str(repo), loc)
    yamledit.replace_document(str(repo), loc, source)  # resubmitted unchanged
    assert yamledit.source_document(str(repo), loc) == source
    yamledit.replace_document(str(repo), loc, source.replace("&port 8888", "&port 8080"))
    values = documents((repo / ATUIN).read_text())[0]["spec"]["values"]
    assert values["service"]["app"]["ports"]["http"]["port"] == 8080
    with pytest.raises(InvalidInput, match="repeats a collection"):
        yamledit.replace_document(str(repo), loc, source + "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n")


LOCATE = {
    # name: (object, kustomization, expected file)
    "component with postBuild substitution": (
        ObjectRef("PersistentVolumeClaim", "atuin", "selfhosted"),
        KustomizationRef(path="./kubernetes/apps/selfhosted/atuin/app", target_namespace="selfhosted",
                         components=("../../../../components/kopiur/backup",), substitute=(("APP", "atuin"),)),
        "kubernetes/components/kopiur/backup/pvc.yaml"),
    "namespace renamed by the namespace transformer": (
        ObjectRef("Namespace", "selfhosted"), KustomizationRef(path="./kubernetes/apps"),
        "kubernetes/components/namespace/namespace.yaml"),
    "leading slash in spec.path": (
        ObjectRef("HelmRelease", "atuin", "selfhosted"),
        KustomizationRef(path="/kubernetes/apps/selfhosted/atuin/app", target_namespace="selfhosted"), ATUIN),
    "file holding matchType: =": (
        ObjectRef("AlertmanagerConfig", "alertmanager", "observability"),
        KustomizationRef(path="./kubernetes/apps/observability/kube-prometheus-stack/app",
                         target_namespace="observability"),
        "kubernetes/apps/observability/kube-prometheus-stack/app/alertmanagerconfig.yaml"),
}


@pytest.mark.parametrize("name", LOCATE)
def test_locate(name: str) -> None:
    obj, kz, expected = LOCATE[name]
    assert locate(str(BJW), obj, kz).path == expected


def test_match_type_reads_as_the_string_equals() -> None:
    doc = documents((BJW / LOCATE["file holding matchType: ="][2]).read_text())[0]
    matchers = [m for r in doc["spec"]["route"]["routes"] for m in r.get("matchers") or []]
    assert {m["matchType"] for m in matchers} == {"="}


def test_unreadable_build_is_a_clear_error(repo: Path) -> None:
    (repo / "kubernetes/apps/selfhosted/atuin/app/broken.yaml").write_bytes(b"\xff\xfe not utf-8")
    kz = repo / "kubernetes/apps/selfhosted/atuin/app/kustomization.yaml"
    kz.write_text(kz.read_text() + "  - ./broken.yaml\n")
    with pytest.raises(NotEditable, match="cannot read"):
        locate(str(repo), ObjectRef("Deployment", "nothing", "selfhosted"),
               KustomizationRef(path="./kubernetes/apps/selfhosted/atuin/app"))


BAD_YAML = {
    "binary tag": ("a: !!binary aGVsbG8=\n", "binary"),
    "complex key": ("? [a, b]\n: c\n", "complex keys"),
    "deep nesting": ("a: " + "[" * 10_000, "nested more than"),
    "infinite number": ("a: .inf\n", "finite"),
}


@pytest.mark.parametrize("name", BAD_YAML)
def test_bad_yaml_is_a_field_error(name: str) -> None:
    text, message = BAD_YAML[name]
    with pytest.raises(InvalidInput, match=message) as info:
        validate.load_user_yaml(text, "values")
    assert info.value.field == "values"


@pytest.mark.parametrize("value", ["1e99999999999", "9" * 60, "1e40"])
def test_overflowing_quantities_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        validate.quantity(value, "cpu")


# ------------------------------------------------------------------------------------------------ values paths
def _values(path: str) -> dict:
    return documents((BJW / path).read_text())[0]["spec"]["values"]


def _chart(name: str) -> helmvalues.ChartRenderer:
    return helmvalues.ChartRenderer(str(CHARTS / name))


HELM = {
    # name: (chart, release, values, workload, intent, expected path)
    "app-template scale": ("app-template", "atuin", _values(ATUIN), helmvalues.Workload("Deployment", "atuin"),
                           helmvalues.Intent("replicas", 2), "controllers.atuin.replicas"),
    "app-template image": ("app-template", "atuin", _values(ATUIN),
                           helmvalues.Workload("Deployment", "atuin", ("app",)),
                           helmvalues.Intent("image", "ghcr.io/atuinsh/atuin:18.20.0", "app"),
                           "controllers.atuin.containers.app.image"),
    "app-template resources": ("app-template", "atuin", _values(ATUIN),
                               helmvalues.Workload("Deployment", "atuin", ("app",)),
                               helmvalues.Intent("resources", {"limits": {"memory": "512Mi"}}, "app"),
                               "controllers.atuin.containers.app.resources"),
    "app-template second controller": ("app-template", "karakeep", _values(KARAKEEP),
                                       helmvalues.Workload("Deployment", "karakeep-chrome", ("app",)),
                                       helmvalues.Intent("replicas", 2), "controllers.chrome.replicas"),
    "top-level": ("podinfo", "podinfo", {"redis": {"enabled": True}}, helmvalues.Workload("Deployment", "podinfo"),
                  helmvalues.Intent("replicas", 3), "replicaCount"),
    "component image": ("podinfo", "podinfo", {"redis": {"enabled": True}},
                        helmvalues.Workload("Deployment", "podinfo-redis", ("redis",)),
                        helmvalues.Intent("image", "docker.io/redis:7.2.4", "redis"), "redis.repository/tag"),
    "sub-chart": ("webapp", "shop", {}, helmvalues.Workload("StatefulSet", "shop-cache", ("valkey",)),
                  helmvalues.Intent("replicas", 3), "cache.replicaCount"),
}


@pytest.mark.parametrize("name", HELM)
def test_values_path_is_proven_by_rendering(name: str) -> None:
    chart, release, values, workload, intent, expected = HELM[name]
    renderer = _chart(chart)
    try:
        proof = helmvalues.prove(release, "apps", values, workload, intent, renderer)
        assert proof.verified and proof.candidate.path == expected
        after = renderer.render(helmvalues.deep_merge(renderer.effective(values), proof.candidate.patch), release,
                                "apps")
        before = renderer.render(renderer.effective(values), release, "apps")
        changed = [key for key in after if after[key] != before.get(key)]
        assert changed == [(workload.kind, workload.name)]
    finally:
        renderer.close()


def test_the_redis_of_podinfo_is_never_scaled_through_podinfo() -> None:
    renderer = _chart("podinfo")
    try:
        with pytest.raises(NotEditable, match="no values path"):
            helmvalues.prove("podinfo", "apps", {"redis": {"enabled": True}},
                             helmvalues.Workload("Deployment", "podinfo-redis", ("redis",)),
                             helmvalues.Intent("replicas", 3), renderer)
        with pytest.raises(InvalidInput, match="no container 'app'") as info:
            helmvalues.prove("podinfo", "apps", {}, helmvalues.Workload("Deployment", "podinfo-redis", ("redis",)),
                             helmvalues.Intent("image", "redis:7", "app"), renderer)
        assert info.value.field == "container"
    finally:
        renderer.close()
    # without the chart: the same refusal (no redis replicas key), never podinfo's replicaCount
    with pytest.raises(NotEditable, match="no values path"):
        helmvalues.prove("podinfo", "apps", {"redis": {"enabled": True}},
                         helmvalues.Workload("Deployment", "podinfo-redis", ("redis",)),
                         helmvalues.Intent("replicas", 3), None)


def test_unverified_without_a_chart_says_so() -> None:
    proof = helmvalues.prove("atuin", "apps", _values(ATUIN), helmvalues.Workload("Deployment", "atuin"),
                             helmvalues.Intent("replicas", 2), None, "app-template", "no chart here")
    assert not proof.verified and proof.reason == "no chart here"
    assert proof.candidate.path == "controllers.atuin.replicas"


def _storage_payload(chart_dir: Path) -> str:
    """A Helm storage Secret's data.release for a release of ``chart_dir``, encoded as Helm and Kubernetes do
    (the chart's metadata, templates and default values inside; base64(gzip(json)), then base64 again)."""
    import base64
    import gzip
    import json

    from ruamel.yaml import YAML

    load = YAML(typ="safe", pure=True).load
    templates = [{"name": str(p.relative_to(chart_dir)), "data": base64.b64encode(p.read_bytes()).decode()}
                 for p in sorted((chart_dir / "templates").rglob("*")) if p.is_file()]
    record = {"name": "podinfo", "version": 1, "chart": {
        "metadata": load((chart_dir / "Chart.yaml").read_text()), "templates": templates,
        "values": load((chart_dir / "values.yaml").read_text())}, "config": {}}
    blob = base64.b64encode(gzip.compress(json.dumps(record).encode())).decode()
    return base64.b64encode(blob.encode()).decode()


def test_a_chart_written_to_helm_storage_reads_back_as_the_same_chart(tmp_path: Path) -> None:
    """chart_record + encode_storage (what the simulated helm-controller writes) and decode_storage +
    chart_dir_from_release (what the verification reads) are inverse: metadata, templates, values and files (the
    crds/ directory here) come back and render the same manifests."""
    import json

    import helm_python

    from gitops.charts import chart_dir_from_release, chart_record, decode_storage, encode_storage
    from simulator.flux.helmengine import PACKAGES

    package = PACKAGES / "kube-prometheus-stack"
    with helm_python.Chart.load(str(package)) as chart:
        record = {"name": "kps", "version": 1, "chart": chart_record(chart), "config": {}}
        before = chart.render({}, name="kps", namespace="monitoring")
        crds = chart.crds
    back = decode_storage(encode_storage(record))
    assert back == json.loads(json.dumps(record))
    with helm_python.Chart.load(str(chart_dir_from_release(back, tmp_path))) as again:
        assert again.render({}, name="kps", namespace="monitoring") == before
        assert again.crds == crds and len(crds) == 10


def test_a_chart_from_helm_storage_verifies_the_change(tmp_path: Path) -> None:
    from gitops.charts import ChartUnavailable, chart_dir_from_release, decode_storage

    record = decode_storage(_storage_payload(CHARTS / "podinfo"))
    renderer = helmvalues.ChartRenderer(str(chart_dir_from_release(record, tmp_path)))
    try:
        proof = helmvalues.prove("podinfo", "apps", {"redis": {"enabled": True}},
                                 helmvalues.Workload("Deployment", "podinfo-redis", ("redis",)),
                                 helmvalues.Intent("image", "docker.io/redis:7.2.4", "redis"), renderer)
        assert proof.verified and proof.candidate.patch == {"redis": {"repository": "docker.io/redis",
                                                                      "tag": "7.2.4"}}
    finally:
        renderer.close()
    # a storage writer that keeps only the chart's metadata: unverified, with the reason
    record["chart"].pop("templates")
    with pytest.raises(ChartUnavailable, match="holds no chart templates"):
        chart_dir_from_release(record, tmp_path / "again")
