"""Plain git: any remote. The branch is pushed, the change request lives in Fluxplane's database, and Fluxplane
merges it into the base branch itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import GitOpsError, MergeConflict
from ..repo import DEFAULT_COMMITTER, Identity, WorkingCopy
from .base import PullRequestInfo, PullRequestProvider, Review


class PlainGitProvider(PullRequestProvider):
    """Any git remote: the branch is pushed, the change request lives in Fluxplane's database, and Fluxplane merges
    it into the base branch itself with a merge commit. The request's handle is its branch. There is no host to
    run checks, hold reviews (approvals happen in Fluxplane), comments or labels: those read empty and writing
    them records nothing remotely (the run's log in Fluxplane is the conversation)."""

    kind = "git"
    hosted = False

    def __init__(self, working_copy: WorkingCopy) -> None:
        self.wc = working_copy
        self.base_branch = working_copy.base_branch

    def _fetch(self) -> None:
        self.wc.git("fetch", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")

    def _rev(self, ref: str) -> str:
        proc = self.wc.git("rev-parse", "--verify", "--quiet", ref, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def open_pull_request(self, branch: str, title: str = "", body: str = "", labels: Sequence[str] = (),
                          reviewers: Sequence[str] = ()) -> PullRequestInfo:
        """Nothing to open remotely: report the pushed branch (the caller records the request)."""
        return self.get(branch)

    def get(self, branch: str) -> PullRequestInfo:
        """``merged`` when the branch tip is contained in the base branch, ``closed`` when the branch is gone."""
        self._fetch()
        head = self._rev(f"refs/remotes/origin/{branch}")
        base = self._rev(f"refs/remotes/origin/{self.base_branch}")
        if not head:
            return PullRequestInfo(branch, self.base_branch, "closed")
        merged = self.wc.git("merge-base", "--is-ancestor", head, base, check=False).returncode == 0
        return PullRequestInfo(branch, self.base_branch, "merged" if merged else "open", merged, head_sha=head,
                               checks=self.checks(head))

    def checks(self, sha: str) -> dict[str, Any]:
        return {"state": "none"}

    def reviews(self, branch: str) -> list[Review]:
        return []

    def merge(self, branch: str, message: str = "", expected_head: str = "", merger: Identity = DEFAULT_COMMITTER,
              retries: int = 3) -> PullRequestInfo:
        """Merge ``branch`` into the base with a merge commit (``--no-ff``) authored by ``merger`` and push.

        Raises MergeConflict (nothing pushed) when the branches conflict or the branch moved past
        ``expected_head``, GitOpsError if the branch is missing."""
        for _attempt in range(retries + 1):
            self._fetch()
            head = self._rev(f"refs/remotes/origin/{branch}")
            base = self._rev(f"refs/remotes/origin/{self.base_branch}")
            if not head:
                raise GitOpsError(f"branch {branch!r} is not on the remote")
            if self.wc.git("merge-base", "--is-ancestor", head, base, check=False).returncode == 0:
                return PullRequestInfo(branch, self.base_branch, "merged", True, head_sha=head, merge_sha=base)
            if expected_head and head != expected_head:
                raise MergeConflict(f"{branch} moved to {head[:12]} since it was checked; it was not merged")
            self.wc.git("checkout", "--force", "-B", "fluxplane-merge", base)
            self.wc.git("clean", "-ffdx")
            text = message or f"Merge branch '{branch}' into {self.base_branch}"
            proc = self.wc.git("merge", "--no-ff", "--no-edit", "-m", text, head, author=merger, check=False)
            if proc.returncode != 0:
                self.wc.git("merge", "--abort", check=False)
                raise MergeConflict(
                    f"{branch} conflicts with {self.base_branch}; it was not merged (rebase the change or edit it "
                    f"again): {proc.stdout.strip()[-500:]}")
            sha = self._rev("HEAD")
            push = self.wc.git("push", "--porcelain", "origin", f"{sha}:refs/heads/{self.base_branch}", check=False)
            if push.returncode == 0:
                return PullRequestInfo(branch, self.base_branch, "merged", True, head_sha=head, merge_sha=sha)
        raise MergeConflict(f"{self.base_branch} kept moving while merging {branch}; try again")

    def merge_when_checks_pass(self, branch: str, message: str = "") -> PullRequestInfo:
        """Plain git has no checks: the approval in Fluxplane is the gate, so this merges."""
        return self.merge(branch, message)

    def close(self, branch: str) -> PullRequestInfo:
        """Delete the branch from the remote: the request can no longer be merged."""
        self.wc.git("push", "--porcelain", "origin", f":refs/heads/{branch}", check=False)
        return self.get(branch)

    def comment(self, branch: str, text: str) -> None:
        """No remote conversation exists for a plain branch; the run's log in Fluxplane carries the words."""

    def add_labels(self, branch: str, labels: Sequence[str]) -> None:
        """Branches carry no labels."""
