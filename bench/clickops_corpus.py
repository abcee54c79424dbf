"""ClickOps on real repositories: every HelmRelease / Deployment / StatefulSet × every change playbook, driven
through the same git-engine functions the playbooks use, with the Flux Kustomizations read from the repository.

    python bench/clickops_corpus.py [REPO ...] [--charts DIR] [--no-build]

Each REPO is a git working tree (it is left as found); default: each fixture copied into a temporary repository.
One JSON line per repository: attempted, exact (only the intended lines changed and the build passes), verified (of
those, the effect proven by rendering the chart), unverified (no chart offline, with why), refused (with a reason),
wrong, crashed, and examples of every outcome but exact. Charts come from ``--charts`` (``<name>/`` or
``<name>-<version>.tgz``; several folders separated by ``:``, the first holding a chart wins); the internet is not
used. With a release's chart, each Deployment / StatefulSet / DaemonSet it renders is a workload to change (as a
user picks it in the cluster); without it, the workload named like the release.
"""

from __future__ import annotations

import argparse
import collections
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gitops import GitOpsError, helmvalues, impact, kustomize, render, yamledit  # noqa: E402
from gitops.charts import ChartUnavailable, find_in_folder  # noqa: E402
from gitops.locate import KustomizationRef, ObjectRef, _live_identity, locate  # noqa: E402
from gitops.validate import build_check  # noqa: E402
from gitops.yamldoc import documents  # noqa: E402

WORKLOADS = ("Deployment", "StatefulSet")
SOURCES: dict[tuple[str, str, str], dict] = {}  # (kind, namespace, name) → chart source, as its Kustomization builds it
EXAMPLES = int(os.environ.get("CLICKOPS_BENCH_EXAMPLES", "4"))  # examples kept of each outcome but exact
GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env={**GIT_ENV, "HOME": str(repo)}, check=True,  # noqa: S603, S607
                          capture_output=True, text=True).stdout


def fixture_repos(tmp: Path) -> list[Path]:
    from simulator.flux.demo import fixtures_dir

    out = []
    for src in sorted(p for p in fixtures_dir().iterdir() if p.is_dir()):
        dst = tmp / src.name
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".git"))
        git(dst, "init", "-q", "-b", "main")
        git(dst, "add", "-A")
        git(dst, "commit", "-q", "-m", "seed")
        out.append(dst)
    return out


def ref_of(ks: impact.FluxKustomization) -> KustomizationRef:
    return KustomizationRef(path=ks.path, target_namespace=ks.target_namespace, name_prefix=ks.name_prefix,
                            name_suffix=ks.name_suffix, components=ks.components, substitute=ks.substitute)


def objects(repo: Path, kss: list[impact.FluxKustomization]) -> list[tuple[impact.FluxKustomization, ObjectRef, dict]]:
    """Every HelmRelease/Deployment/StatefulSet each Kustomization builds (first Kustomization wins a file), as the
    Kustomization builds it (overlay patches and postBuild substitution applied, as the cluster — and the playbook —
    sees it), else as written."""
    seen: set[tuple[str, int]] = set()
    out = []
    for ks in kss:
        ref = ref_of(ks)
        try:
            manifests = list(kustomize.walk(str(repo), ks.path.lstrip("/") or ".", ks.components))
        except (GitOpsError, OSError, ValueError):
            continue
        built = render.build(str(repo), ks).objects
        # chart sources as built (a chartRef may name a substituted ``${APP}-anubis``): _chart_name looks here first
        SOURCES.update({key: o for key, o in built.items() if key[0] in ("OCIRepository", "HelmChart")})
        for manifest in manifests:
            try:
                docs = documents((repo / manifest.path).read_text(encoding="utf-8"))
            except Exception:  # noqa: BLE001, S112 — not YAML
                continue
            for i, doc in enumerate(docs):
                if not isinstance(doc, dict) or doc.get("kind") not in (*WORKLOADS, "HelmRelease"):
                    continue
                if (manifest.path, i) in seen:
                    continue
                seen.add((manifest.path, i))
                name, namespace = _live_identity(doc, manifest.layers, ref)
                live = built.get((str(doc["kind"]), namespace, name))
                out.append((ks, ObjectRef(str(doc["kind"]), name, namespace), live or doc))
    return out


def _containers(doc: dict) -> list[dict]:
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c for c in spec.get("containers") or [] if isinstance(c, dict) and c.get("name")]


def _source_chart(source: dict) -> tuple[str, str]:
    """(chart name, version) of an OCIRepository (its URL ends with the chart name) or a HelmChart."""
    spec = source.get("spec") or {}
    if source.get("kind") == "HelmChart":
        return str(spec.get("chart") or ""), str(spec.get("version") or "")
    return str(spec.get("url") or "").rstrip("/").rsplit("/", 1)[-1], str((spec.get("ref") or {}).get("tag") or "")


def _chart_name(repo: Path, doc: dict) -> tuple[str, str]:
    spec = doc.get("spec") or {}
    chart = (spec.get("chart") or {}).get("spec") or {}
    if chart.get("chart"):
        return str(chart["chart"]).rsplit("/", 1)[-1], str(chart.get("version") or "")
    ref = spec.get("chartRef") or {}
    namespace = ref.get("namespace") or (doc.get("metadata") or {}).get("namespace") or ""
    built = SOURCES.get((str(ref.get("kind")), namespace, str(ref.get("name"))))
    if built is not None:
        return _source_chart(built)
    for path in repo.rglob("*.y*ml"):  # the OCIRepository named by chartRef: its URL ends with the chart name
        if ".git" in path.parts or ref.get("name", "\0") not in path.read_text(encoding="utf-8", errors="ignore"):
            continue
        try:
            docs = documents(path.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001, S112
            continue
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == ref.get("kind") and (d.get("metadata") or {}).get(
                    "name") == ref.get("name"):
                return _source_chart(d)
    return "", ""


def _helm_workload(name: str, values: dict) -> tuple[helmvalues.Workload, str]:
    controllers = values.get("controllers")
    if isinstance(controllers, dict) and controllers:
        enabled = [c for c, v in controllers.items() if not (isinstance(v, dict) and v.get("enabled") is False)]
        ctl = name if name in enabled else (enabled[0] if enabled else next(iter(controllers)))
        spec = controllers.get(ctl) or {}
        kind = {"statefulset": "StatefulSet", "daemonset": "DaemonSet", "cronjob": "CronJob"}.get(
            str(spec.get("type") or "deployment").lower(), "Deployment")
        wname = name if (ctl == name or len(enabled) == 1) else f"{name}-{ctl}"
        containers = tuple((spec.get("containers") or {}).keys())
        return helmvalues.Workload(kind, wname, containers), containers[0] if containers else ""
    return helmvalues.Workload("Deployment", name), ""


def _load_chart(repo: Path, doc: dict, charts: str | None, any_version: bool
                ) -> tuple[helmvalues.ChartRenderer | None, str, str]:
    """(renderer or None, chart name, why it is None) for a HelmRelease, from the ``--charts`` folder."""
    chart, version = _chart_name(repo, doc)
    try:
        return helmvalues.ChartRenderer(str(find_in_folder(charts, chart, "" if any_version else version))), chart, ""
    except (ChartUnavailable, GitOpsError) as exc:
        return None, chart, f"chart {chart or '?'}: {exc}"


def rendered_workloads(repo: Path, doc: dict, obj: ObjectRef, charts: str | None, any_version: bool
                       ) -> list[tuple[helmvalues.Workload, int]]:
    """The Deployments, StatefulSets and DaemonSets the release's chart renders with its values (with the replicas
    they render) — what a user picks in the cluster to change; empty when the chart is not in the folder or does
    not render (the bench then guesses the workload named like the release, as the playbook does when the
    HelmRelease itself is picked)."""
    renderer, _, _ = _load_chart(repo, doc, charts, any_version)
    if renderer is None:
        return []
    values = (doc.get("spec") or {}).get("values") or {}
    release = str((doc.get("spec") or {}).get("releaseName") or obj.name)
    try:
        rendered = renderer.render(renderer.effective(values), release, obj.namespace)
    except GitOpsError:
        return []
    finally:
        renderer.close()
    return [(helmvalues.Workload(kind, name, tuple(c["name"] for c in _containers(found))),
             int((found.get("spec") or {}).get("replicas") or 1))
            for (kind, name), found in sorted(rendered.items()) if kind in (*WORKLOADS, "DaemonSet")]


class Attempt:
    """One object × playbook (× the rendered workload it targets, for a HelmRelease): the edit, then its
    classification."""

    def __init__(self, repo: Path, ks, obj: ObjectRef, doc: dict, playbook: str, charts: str | None,
                 any_version: bool = False, target: tuple[helmvalues.Workload, int] | None = None) -> None:
        self.repo, self.ks, self.obj, self.doc, self.playbook, self.charts = repo, ks, obj, doc, playbook, charts
        self.any_version, self.target = any_version, target
        self.intended: list[tuple] = []  # leaf paths (in the edited document) the change may touch
        self.verified: bool | None = None
        self.unverified_reason = ""
        self.chart = ""

    def run(self) -> None:
        loc = locate(str(self.repo), self.obj, ref_of(self.ks))
        self.loc = loc
        if self.obj.kind == "HelmRelease":
            return self._helm(loc)
        containers = _containers(self.doc)
        if self.playbook == "scale":
            yamledit.set_replicas(str(self.repo), loc, int((self.doc.get("spec") or {}).get("replicas") or 1) + 1)
            self.intended = [("spec", "replicas")]
        elif not containers:
            raise yamledit.NotEditable("the workload has no named container")
        elif self.playbook == "update-image":
            name = str(containers[0].get("image") or "example/app").split("@")[0].rsplit(":", 1)[0]
            yamledit.set_image(str(self.repo), loc, containers[0]["name"], f"{name}:1.2.3-bench")
            self.intended = [("spec", "template", "spec", "containers"), ("images",)]
        elif self.playbook == "update-resources":
            yamledit.set_resources(str(self.repo), loc, containers[0]["name"], {"cpu": "123m"}, None)
            self.intended = [("spec", "template", "spec", "containers")]
        else:
            raise yamledit.NotEditable("not a HelmRelease")

    def _helm(self, loc) -> None:
        values = (self.doc.get("spec") or {}).get("values") or {}
        release = str((self.doc.get("spec") or {}).get("releaseName") or self.obj.name)
        if self.playbook == "update-helm-values":
            yamledit.merge_values(str(self.repo), loc, {"fluxplaneBench": {"enabled": True}})
            self.intended = [("spec", "values", "fluxplaneBench")]
            return
        renderer, chart, self.unverified_reason = _load_chart(self.repo, self.doc, self.charts, self.any_version)
        self.chart = chart
        replicas = 2
        if self.target is not None:
            workload, replicas = self.target
            replicas += 1  # a change from what it renders now
            container = (workload.containers or ("",))[0]
        else:
            workload, container = _helm_workload(release, values)
        if renderer is not None and not container:
            # the bench has no live object: the container names are those the chart renders for the workload
            try:
                rendered = renderer.render(renderer.effective(values), release, self.obj.namespace)
                found = rendered.get((workload.kind, workload.name)) or {}
                names = [c.get("name") for c in _containers(found)]
                workload = helmvalues.Workload(workload.kind, workload.name, tuple(n for n in names if n))
                container = names[0] if names else ""
            except GitOpsError:
                pass
        intent = {"scale": helmvalues.Intent("replicas", replicas),
                  "update-image": helmvalues.Intent("image", "ghcr.io/example/bench:1.2.3", container),
                  "update-resources": helmvalues.Intent("resources", {"requests": {"cpu": "123m"}}, container)}[
            self.playbook]
        try:
            proof = helmvalues.prove(release, self.obj.namespace, values, workload, intent, renderer, chart,
                                     self.unverified_reason)
        finally:
            if renderer is not None:
                renderer.close()
        self.verified = proof.verified
        yamledit.merge_values(str(self.repo), loc, proof.candidate.patch)
        self.intended = [("spec", "values")]


def _leaves(a: Any, b: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in dict.fromkeys([*a, *b]) for p in (
            [path + (k,)] if k not in a or k not in b else _leaves(a[k], b[k], path + (k,)))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in _leaves(x, y, path + (i,))]
    return [] if a == b else [path]


def classify(repo: Path, attempt: Attempt, build: bool) -> tuple[str, str]:
    """(outcome, why) of a finished edit: exact, or wrong with the reason."""
    changed = [p for p in git(repo, "status", "--porcelain", "-uall").splitlines() if p.strip()]
    if not changed:
        return "wrong", "nothing changed"
    removed_scalars = 0
    for line in changed:
        rel = line[3:]
        after = (repo / rel).read_text(encoding="utf-8")
        shown = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=repo, capture_output=True, text=True,  # noqa: S603, S607
                               env={**GIT_ENV, "HOME": str(repo)}, check=False)
        before = shown.stdout if shown.returncode == 0 else ""
        old_docs, new_docs = documents(before) if before else [], documents(after)
        for i, (old, new) in enumerate(zip(old_docs, new_docs, strict=False)):
            for leaf in _leaves(old, new):
                if not any(leaf[: len(p)] == p for p in attempt.intended) and not (
                        rel.endswith(("kustomization.yaml", "kustomization.yml")) and leaf[:1] == ("images",)):
                    return "wrong", f"{rel}#{i} also changed {'.'.join(map(str, leaf))}"
        if len(old_docs) != len(new_docs):
            return "wrong", f"{rel}: the number of documents changed"
        matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
        removed = sum(i2 - i1 for tag, i1, i2, _, _ in matcher.get_opcodes() if tag in ("replace", "delete"))
        removed_scalars += removed
    if removed_scalars > 3:  # a replaced value is one line; more means reformatting
        return "wrong", f"{removed_scalars} original lines rewritten"
    if build:
        errors = build_check(str(repo), [attempt.loc.build_path])
        if errors:
            return "wrong", errors[0][:200]
    return "exact", ""


def bench(repo: Path, charts: str | None, build: bool, any_version: bool = False) -> dict[str, Any]:
    found = impact.kustomizations_in_repository(str(repo))
    # only GitRepository sources map to the repository's files (an artifact's layout is not the repository's)
    kss = [ks for ks in found if ks.source_kind == "GitRepository"]
    counts = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    missing: set[str] = set()  # charts of the unverified changes: not in --charts (with a chart, exact is verified)
    for ks, obj, doc in objects(repo, kss):
        runs: list[tuple[str, tuple[helmvalues.Workload, int] | None]] = [
            (p, None) for p in ("scale", "update-image", "update-resources")]
        if obj.kind == "HelmRelease":
            # with the chart, each workload it renders is a pick of its own (ingress-nginx renders only
            # ingress-nginx-controller, cert-manager three Deployments)
            targets = rendered_workloads(repo, doc, obj, charts, any_version) or [None]
            runs = [(p, t) for t in targets for p, _ in runs if p != "scale" or t is None or t[0].kind in WORKLOADS]
            runs.append(("update-helm-values", None))  # a DaemonSet has no replicas to scale
        for playbook, target in runs:
            counts["attempted"] += 1
            attempt = Attempt(repo, ks, obj, doc, playbook, charts, any_version, target)
            label = f"{playbook} {obj.kind} {obj.namespace}/{obj.name}" + (
                f" → {target[0].kind} {target[0].name}" if target is not None else "")
            try:
                attempt.run()
                outcome, why = classify(repo, attempt, build)
            except GitOpsError as exc:
                outcome, why = "refused", str(exc)
            except Exception as exc:  # noqa: BLE001 — a crash is what the bench counts
                outcome, why = "crashed", f"{type(exc).__name__}: {exc} @ {traceback.format_exc().splitlines()[-3]}"
            finally:
                git(repo, "checkout", "-q", "--", ".")
                git(repo, "clean", "-fdq")
            counts[outcome] += 1
            if outcome == "exact" and attempt.verified is True:
                counts["verified"] += 1
            elif outcome == "exact" and attempt.verified is False:
                counts["unverified"] += 1
                if len(examples["unverified"]) < 3:
                    examples["unverified"].append(f"{label}: {attempt.unverified_reason}")
                missing.add(attempt.chart or "?")
            if outcome != "exact" and len(examples[outcome]) < EXAMPLES:
                examples[outcome].append(f"{label}: {why[:300]}")
    return {"repository": repo.name, "kustomizations": len(kss), "not_git_kustomizations": len(found) - len(kss),
            **{k: counts.get(k, 0) for k in ("attempted", "exact", "verified", "unverified", "refused", "wrong",
                                               "crashed")},
            "missing_charts": sorted(missing), "examples": dict(examples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="*", help="git working trees (default: each fixture in a temporary repo)")
    parser.add_argument("--charts", default=None,
                        help=f"folder of charts to verify values paths with (several separated by {os.pathsep!r})")
    parser.add_argument("--no-build", action="store_true", help="skip kubectl kustomize after each change")
    parser.add_argument("--any-chart-version", action="store_true",
                        help="use a chart of the same name from --charts whatever its version (stand-in charts)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repos = [Path(r).resolve() for r in args.repos] or fixture_repos(Path(tmp))
        for repo in repos:
            print(json.dumps(bench(repo, args.charts, not args.no_build, args.any_chart_version)), flush=True)


if __name__ == "__main__":
    main()
