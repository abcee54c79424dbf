"""The fault stack for GitOps runs: the real processes of conftest.Stack over the Flux demo (a cluster simulator
with its Flux controllers and a bare git repository, in this process) and the GitHub simulator serving that
repository, with its fault switches (simulator/github/faults.py)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.flux.demo import Demo, start_demo
from simulator.github import GitHubSimulator
from tests.faults.conftest import Stack

TOKEN = "ghs_fault_matrix_token_0123456789"
REPO = "fluxplane/fleet"

# Run inside `manage.py shell` (a separate process, like a person's request in the web): a developer with the
# request grant on the Kustomization asks for a Scale, a lead approves it, which puts it on the playbooks queue.
REQUEST = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm
from graph.models import KubeObject
from playbooks.changes.library import Scale
from playbooks.models import PlaybookRun
users = get_user_model().objects
dev, _ = users.get_or_create(username="dev", defaults={"is_staff": True})
lead, created = users.get_or_create(username="lead", defaults={"is_staff": True})
if created:
    lead.user_permissions.add(Permission.objects.get(content_type__app_label="graph", codename="approve_run"))
    lead = users.get(pk=lead.pk)
assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Kustomization", name="apps",
            deleted_at__isnull=True))
target = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo", deleted_at__isnull=True)
params = {"replicas": REPLICAS}
run = PlaybookRun.request(Scale, target, dev, params, diff=Scale.preview(target, params).diff)
run.approve(lead, "ok")
print(json.dumps({"run": run.pk}))
"""


@dataclass
class GitOpsStack:
    """The processes (``stack``), the demo (``demo``) and the GitHub simulator (``github``) of one test."""

    stack: Stack
    demo: Demo
    github: GitHubSimulator

    def request_scale(self, replicas: int) -> int:
        """Request and approve a Scale of podinfo (a GitOps run on the playbooks queue); the run's id."""
        out = self.stack.manage("shell", "-c", REQUEST.replace("REPLICAS", str(int(replicas))))
        return json.loads(out.strip().splitlines()[-1])["run"]

    def run(self, pk: int) -> dict:
        rows = self.stack.sql("SELECT status, attempts, error, branch, commit_sha, pr_number, change_state, log "
                              "FROM playbooks_playbookrun WHERE id = ?", pk)
        keys = ("status", "attempts", "error", "branch", "commit_sha", "pr_number", "change_state", "log")
        row = dict(zip(keys, rows[0], strict=True))
        row["log"] = [line["message"] for line in json.loads(row["log"] or "[]")]
        return row

    def git(self, *args: str) -> str:
        """git in the bare repository GitHub serves (and Flux reads)."""
        return subprocess.run(["git", "-C", str(self.demo.bare_repo), *args], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    def fluxplane_branches(self) -> list[str]:
        return self.git("for-each-ref", "--format=%(refname:short)", "refs/heads/fluxplane/").split()

    def commits_ahead(self, branch: str) -> int:
        """Commits on ``branch`` that the base branch does not have."""
        return int(self.git("rev-list", "--count", f"main..{branch}").strip())

    def main_sha(self) -> str:
        return self.git("rev-parse", "main").strip()


@pytest.fixture
def gitops_stack(tmp_path: Path):
    demo = start_demo(tmp_path / "demo", source_interval="1h")
    github = GitHubSimulator(tmp_path / "github", tokens={TOKEN: "fluxplane-bot"})
    github.add_repo(REPO, demo.bare_repo)
    api = github.start()
    (tmp_path / "token").write_text(TOKEN)
    stack = Stack(tmp_path / "stack", demo.api_url)
    stack.dir.mkdir()
    try:
        assert demo.wait_ready(60), "the demo did not converge"
        stack.boot()
        stack.manage("shell", "-c", "from controlplane.models import GitConnection; GitConnection.objects.create("
                     f"name='demo', provider='github', api_url='{api}', github_repository='{REPO}', "
                     f"repository_url='{demo.repo.url}', token_ref='file:{tmp_path / 'token'}')")
        yield GitOpsStack(stack, demo, github)
    finally:
        stack.stop()
        github.stop()
        demo.stop()
