"""Where the chart of a HelmRelease comes from, to verify a values change by rendering it (gitops.helmvalues).

In order: the release's Helm storage (the ``sh.helm.release.v1.<name>.v<n>`` Secret helm-controller writes holds
the chart it installed: metadata, templates, default values and files), then a folder of chart packages
(``FLUXPLANE_HELM_CHARTS_DIR``, the bench's ``--charts``: ``<name>/`` directories or ``<name>-<version>.tgz``;
several folders separated by ``os.pathsep``).
Charts from the internet are not fetched here. Each function answers a path to load, or a reason it cannot.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML


class ChartUnavailable(Exception):
    """The chart cannot be loaded offline; the message says why (shown as "effect unverified")."""


def decode_storage(data_release: str) -> dict[str, Any]:
    """The release record of a Helm storage Secret's ``data.release`` (base64 of Helm's base64(gzip(json)))."""
    try:
        blob = base64.b64decode(base64.b64decode(data_release))
        if blob[:2] == b"\x1f\x8b":
            blob = gzip.decompress(blob)
        record = json.loads(blob)
    except (binascii.Error, ValueError, OSError) as exc:
        raise ChartUnavailable(f"the Helm storage record cannot be decoded ({exc})") from None
    if not isinstance(record, dict):
        raise ChartUnavailable("the Helm storage record is not a release")
    return record


def encode_storage(record: dict[str, Any]) -> str:
    """A Helm storage Secret's ``data.release`` for a release record: base64 of Helm's base64(gzip(json)) — the
    inverse of :func:`decode_storage`."""
    blob = base64.b64encode(gzip.compress(json.dumps(record).encode(), mtime=0))
    return base64.b64encode(blob).decode()


def chart_record(chart: Any) -> dict[str, Any]:
    """A loaded chart (helm-python-sdk ``Chart``) as Helm's release record holds it: metadata, templates and
    files (``crds/`` included) base64-encoded as Go marshals bytes, default values and schema."""
    def encoded(items: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{"name": i["name"], "data": base64.b64encode(i["data"].encode()).decode()} for i in items]
    schema = chart.schema
    return {"metadata": chart.metadata, "lock": None, "templates": encoded(chart.templates),
            "values": chart.values, "schema": base64.b64encode(json.dumps(schema).encode()).decode() if schema
            else None, "files": encoded(chart.files)}


def chart_dir_from_release(record: dict[str, Any], into: str | Path | None = None) -> Path:
    """Write the chart stored in a Helm release record as a chart directory; ChartUnavailable when the record holds
    no templates (a storage writer that keeps only the chart's metadata)."""
    chart = record.get("chart") or {}
    metadata = chart.get("metadata") or {}
    templates = chart.get("templates") or []
    if not metadata.get("name") or not templates:
        raise ChartUnavailable("the release's Helm storage holds no chart templates")
    root = Path(into or tempfile.mkdtemp(prefix="fp-chart-")) / re.sub(r"[^A-Za-z0-9._-]", "_", metadata["name"])
    (root / "templates").mkdir(parents=True, exist_ok=True)
    (root / "Chart.yaml").write_text(json.dumps({"apiVersion": "v2", **metadata}))
    (root / "values.yaml").write_text(json.dumps(chart.get("values") or {}))
    for item in [*templates, *(chart.get("files") or [])]:
        name = str(item.get("name") or "")
        if not name or name.startswith("/") or ".." in name.split("/"):
            continue
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(item.get("data") or ""))
    if chart.get("schema"):
        (root / "values.schema.json").write_bytes(base64.b64decode(chart["schema"]))
    return root


def find_in_folder(folder: str | Path | None, name: str, version: str = "") -> Path:
    """A chart named ``name`` in a folder of charts: ``<name>/`` (a chart directory) or ``<name>-<version>.tgz``
    (the exact version when given, else the only/last one). ``folder`` may list several folders separated by
    ``os.pathsep`` (``tests/fixtures/charts:simulator/flux/chart_packages``): the first that holds the chart wins."""
    if not folder or not name:
        raise ChartUnavailable("no chart folder is configured (FLUXPLANE_HELM_CHARTS_DIR)")
    bases = [Path(part) for part in str(folder).split(os.pathsep) if part]
    for base in bases:
        found = _in_one_folder(base, name, version)
        if found is not None:
            return found
    where = ", ".join(map(str, bases))
    raise ChartUnavailable(f"chart {name} {version} is not in {where}".replace("  ", " "))


def _in_one_folder(base: Path, name: str, version: str) -> Path | None:
    directory = base / name
    if (directory / "Chart.yaml").is_file():
        found = YAML(typ="safe", pure=True).load((directory / "Chart.yaml").read_text()) or {}
        if not version or str(found.get("version")) == version or not _is_exact(version):
            return directory
    exact = base / f"{name}-{version}.tgz"
    if version and exact.is_file():
        return exact
    packages = sorted(base.glob(f"{name}-[0-9]*.tgz"))
    if packages and not _is_exact(version):
        return packages[-1]
    return None


def _is_exact(version: str) -> bool:
    return bool(re.fullmatch(r"v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?", version or ""))
