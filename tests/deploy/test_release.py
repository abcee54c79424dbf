"""Release artifacts: one version for the package, the image and the chart; the wheel and the packaged chart build
(a broken artifact fails CI, which runs this suite); the open-source files are there and say what they must."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "chart"


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_one_version_for_package_image_and_chart():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == version()
    # the image tag defaults to the appVersion; the Dockerfile stamps the version it is built with
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["tag"] == ""
    assert 'org.opencontainers.image.version="${VERSION}"' in (ROOT / "Dockerfile").read_text()
    assert f"## [{version()}]" in (ROOT / "CHANGELOG.md").read_text()


def test_release_script_sets_every_version(tmp_path):
    """scripts/release.sh VERSION writes the one version everywhere (dry run on a copy)."""
    for rel in ("pyproject.toml", "deploy/chart/Chart.yaml", "CHANGELOG.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text())
    result = subprocess.run(["bash", str(ROOT / "scripts" / "release.sh"), "9.8.7"], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "FLUXPLANE_RELEASE_ROOT": str(tmp_path)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert tomllib.loads((tmp_path / "pyproject.toml").read_text())["project"]["version"] == "9.8.7"
    chart = yaml.safe_load((tmp_path / "deploy/chart/Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == "9.8.7"
    changelog = (tmp_path / "CHANGELOG.md").read_text()
    assert re.search(r"^## \[9\.8\.7\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert "## [Unreleased]" in changelog  # a fresh, empty section for what comes next
    bad = subprocess.run(["bash", str(ROOT / "scripts" / "release.sh"), "v1"], cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "FLUXPLANE_RELEASE_ROOT": str(tmp_path)},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "not a version" in bad.stderr


def test_the_chart_packages_and_the_package_renders(tmp_path):
    import helm_python

    archive = Path(helm_python.package(str(CHART), destination=str(tmp_path)))
    assert archive.name == f"fluxplane-{version()}.tgz"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    for needed in ("Chart.yaml", "values.yaml", "values.schema.json", "files/rbac.yaml", "templates/rbac.yaml"):
        assert f"fluxplane/{needed}" in names
    with helm_python.Chart.load(str(archive)) as chart:
        out = chart.render({"allowedHosts": ["fluxplane.example.com"], "secret": {"existingSecret": "env"}},
                           name="fp", namespace="fluxplane")
    rbac = [d for d in yaml.safe_load_all(out["fluxplane/templates/rbac.yaml"]) if d]
    assert rbac[0]["kind"] == "ClusterRole" and rbac[0]["rules"]  # files/ travelled in the package


def test_the_wheel_builds_with_its_data_and_licence(tmp_path):
    # pip builds in the source tree (build/, *.egg-info): build from a copy, never touching the checkout
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                                                "__pycache__", "var", "node_modules", "tests"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w",
                             str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("fluxplane-*.whl")
    assert wheel.name.startswith(f"fluxplane-{version()}-")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert any(n.endswith(".dist-info/licenses/NOTICE") for n in names)
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for package in (p.rstrip("*") for p in packages["include"]):
        assert f"{package}/__init__.py" in names, package
    assert any(n.startswith("controlplane/templates/") for n in names)  # package data


def test_open_source_files():
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    notice = (ROOT / "NOTICE").read_text()
    for fixture in sorted(p.name for p in (ROOT / "tests/fixtures/flux-examples").iterdir() if p.is_dir()):
        assert f"tests/fixtures/flux-examples/{fixture}" in notice
    assert "simulator/flux/demo_repo" in notice and "Apache License, Version 2.0" in notice
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and "## [Unreleased]" in changelog
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    assert "scripts/test.sh" in contributing and "CHANGELOG.md" in contributing
    assert "Report a vulnerability" in (ROOT / "SECURITY.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in ("LICENSE", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"):
        assert name in readme, name
