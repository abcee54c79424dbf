"""bench/clickops_corpus.py runs (bench/ must not rot) on a copy of the Flux example: its JSON line has the keys the
docs report, no change is wrong or crashes, and the podinfo chart stand-in proves the podinfo values paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import HELM, make_repo

ROOT = Path(__file__).resolve().parents[2]


def test_corpus_bench_on_the_flux_example(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, HELM)
    out = subprocess.run([sys.executable, "bench/clickops_corpus.py", str(repo), "--charts", "tests/fixtures/charts",
                          "--any-chart-version"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    for key in ("repository", "attempted", "exact", "verified", "unverified", "refused", "wrong", "crashed",
                "examples"):
        assert key in result, key
    assert result["wrong"] == 0 and result["crashed"] == 0, result["examples"]
    assert result["attempted"] >= 15  # HelmReleases × 4 playbooks and the frontend Deployment × 3
    assert result["verified"] >= 3  # podinfo's scale, image and resources proven with the podinfo stand-in chart
    assert result["exact"] + result["refused"] == result["attempted"]
    # the repository is left as it was found
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout == ""
