"""An OCI registry for Flux artifacts, in a directory: what `flux push artifact` writes and source-controller's
OCIRepository pulls. Fleets publish their manifests from git this way and stamp the artifact with its origin
(``org.opencontainers.image.source`` / ``.revision``), which source-controller copies to ``status.artifact.metadata``.

    registry = OCIRegistry(Path("/tmp/registry"))
    registry.push_git("oci://ghcr.io/org/fleet", "latest", repo, sha, "main", "https://github.com/org/fleet")
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SOURCE = "org.opencontainers.image.source"
REVISION = "org.opencontainers.image.revision"
CREATED = "org.opencontainers.image.created"


@dataclass(frozen=True)
class Pushed:
    """One tag of one repository: the content digest, the gzipped tarball and the annotations."""

    digest: str
    tarball: Path
    annotations: dict


class OCIRegistry:
    """Repositories are directories named after the URL; each tag is a tarball and a JSON manifest beside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, url: str) -> Path:
        return self.root / quote(url.removeprefix("oci://").rstrip("/"), safe="")

    def push_git(self, url: str, tag: str, repo: Path | str, sha: str, branch: str, source_url: str,
                 path: str = ".") -> str:
        """`flux push artifact <url>:<tag> --path=<path> --source=<source_url> --revision=<branch>@sha1:<sha>`
        from a commit of a local git repository; returns the digest (``sha256:...``)."""
        tree = f"{sha}:{path.strip('./')}" if path.strip("./") else sha
        proc = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", tree], capture_output=True,
                              timeout=120, check=True, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
        data = gzip.compress(proc.stdout, mtime=0)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self._dir(url)
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{tag}.tar.gz").write_bytes(data)
        annotations = {SOURCE: source_url, REVISION: f"{branch}@sha1:{sha}"}
        (target / f"{tag}.json").write_text(json.dumps({"digest": digest, "annotations": annotations}))
        return digest

    def resolve(self, url: str, tag: str) -> Pushed | None:
        """The artifact behind ``url:tag``, or None when nothing was pushed there."""
        target = self._dir(url)
        manifest = target / f"{tag}.json"
        if not manifest.is_file():
            return None
        data = json.loads(manifest.read_text())
        return Pushed(data["digest"], target / f"{tag}.tar.gz", dict(data.get("annotations") or {}))
