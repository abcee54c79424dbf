"""The benchmark scripts still run (bench/ must not rot): small sizes, JSON keys and sane values, no timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, f"one JSON line expected, got: {out.stdout[-2000:]}"
    return json.loads(lines[0])


@pytest.mark.skipif(not (Path(sys.executable).parent / "kubectl").exists(), reason="kubectl is not in the venv")
def test_sync_bench_prints_its_json_line():
    result = run_bench("bench/sync.py", "--objects", "50")
    for key in ("objects", "sync_seconds", "kubectl_seconds", "ratio", "queries", "peak_rss_mb"):
        assert key in result, key
    assert result["objects"] == 50 and result["problems"] == 0
    assert result["mirrored"] == result["objects"] + result["children"], "every generated object is mirrored"
    assert result["edges"] > result["mirrored"] / 2
    assert result["kubectl_items"] >= result["mirrored"]
    assert result["sync_seconds"] > 0 and result["kubectl_seconds"] > 0 and result["ratio"] > 0
    assert 0 < result["queries"] < 30 and result["peak_rss_mb"] > 0
    assert result["sync_peak_rss_mb"] > 0 and result["resync_peak_rss_mb"] > 0 and result["resync_rows_written"] == 0


def test_graph_render_bench_prints_its_json_line():
    result = run_bench("bench/graph_render.py", "--nodes", "50", "--repeat", "1")
    (size,) = result["sizes"]
    assert 40 <= size["nodes"] <= 60 and size["edges"] > 0 and size["svg_kb"] > 0
    assert size["uncached_seconds"] > 0 and size["cached_seconds"] > 0


def test_admin_pages_bench_prints_its_json_line():
    result = run_bench("bench/admin_pages.py", "--objects", "30", "--repeat", "1")
    assert result["mirrored"] > result["objects"]
    assert {p["page"] for p in result["pages"]} >= {"list: all objects", "admin index (dashboard)"}
    assert all(p["queries"] > 0 and p["seconds"] > 0 for p in result["pages"])


def test_watch_memory_bench_prints_its_json_line():
    result = run_bench("bench/watch_memory.py", "--objects", "30", "--changes", "2")
    assert result["list"] == "child" and result["mirrored"] == result["objects"] + result["children"]
    assert result["child_objects"] == result["mirrored"], "the first list was done by the child process"
    assert result["watcher_peak_rss_mb"] > 0 and result["child_peak_rss_mb"] > 0
