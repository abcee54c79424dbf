"""A local working copy per repository: cloned once into a cache, fetched and hard-reset per run, one branch per
run, commits authored by the requesting user and committed by Fluxplane, pushed without ever using a shell.

Every git call is an argument list (``subprocess.run([...])``); commit messages go through stdin (``-F -``).
The token, when there is one, reaches git through ``GIT_ASKPASS`` and the environment, never the command line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import GitCommandError, GitOpsError, InvalidInput, PushConflict

_BRANCH_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "failed to push some refs", "stale info")
RUN_TRAILER = "Fluxplane-Run"


def _rejection(output: str) -> str:
    """The host's reason for refusing a push, in one short line: its own ``remote:`` message when it gave one
    (a hook, a protected branch), else git's ``[rejected] (reason)``."""
    remote = [line[len("remote:"):].strip() for line in output.splitlines() if line.startswith("remote:")]
    remote = [line for line in remote if line]
    if remote:
        return remote[0][:200]
    match = re.search(r"\[(?:remote )?rejected\][^(]*\(([^)]*)\)", output)
    return match.group(1)[:200] if match else "rejected by the remote"


@dataclass(frozen=True)
class Identity:
    """A git identity (author or committer)."""

    name: str
    email: str

    def __post_init__(self) -> None:
        for value in (self.name, self.email):
            if not value or any(c in value for c in "<>\n\r\0"):
                raise InvalidInput(f"{value!r} cannot be used in a git identity", "author")


DEFAULT_COMMITTER = Identity("Fluxplane", "fluxplane@localhost")


@dataclass(frozen=True)
class CommitResult:
    """Outcome of publishing a change: the branch it is on, its commit, whether this call created/pushed it."""

    branch: str
    sha: str
    created: bool


def branch_name(playbook: str, run_id: str | int) -> str:
    """``fluxplane/<playbook>-<run id>``: deterministic per run, so a retry finds its own branch."""
    part = f"{playbook}-{run_id}"
    if not _BRANCH_PART.match(part) or ".." in part or part.endswith((".lock", ".")):
        raise InvalidInput(f"{part!r} cannot be used in a branch name", "branch")
    return f"fluxplane/{part}"


def commit_message(kind: str, name: str, summary: str, body: str = "", run_id: str | int = "") -> str:
    """A conventional commit message ``chore(<kind>/<name>): <summary>`` + body + ``Fluxplane-Run`` trailer.

    User text is kept literally (it only ever reaches git through stdin)."""
    subject = " ".join(f"chore({kind.lower()}/{name}): {summary}".split())
    if len(subject) > 200:
        subject = subject[:197] + "..."
    parts = [subject]
    if body.strip():
        parts.append(body.strip())
    if run_id != "":
        parts.append(f"{RUN_TRAILER}: {run_id}")
    return "\n\n".join(parts) + "\n"


class WorkingCopy:
    """The cached clone of one remote: ``prepare()`` before editing files under ``path``, then
    ``commit_branch`` (pull-request mode) or ``commit_to_base`` (direct mode). Use ``lock()`` around a run."""

    def __init__(self, cache_dir: str | os.PathLike, remote_url: str, base_branch: str = "main", *,
                 token: str = "", committer: Identity = DEFAULT_COMMITTER) -> None:
        self.remote_url = remote_url
        self.base_branch = base_branch
        self.committer = committer
        self._token = token
        digest = hashlib.sha256(remote_url.encode()).hexdigest()[:16]
        self.path = Path(cache_dir).resolve() / digest
        self._askpass = Path(cache_dir).resolve() / "askpass.sh"

    # -- plumbing ------------------------------------------------------------------------------------------
    def _env(self, author: Identity | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
                   GIT_COMMITTER_NAME=self.committer.name, GIT_COMMITTER_EMAIL=self.committer.email)
        if author:
            env.update(GIT_AUTHOR_NAME=author.name, GIT_AUTHOR_EMAIL=author.email)
        if self._token:
            if not self._askpass.exists():
                self._askpass.parent.mkdir(parents=True, exist_ok=True)
                # prints x-access-token for the user name prompt, the token for the password prompt
                self._askpass.write_text('#!/bin/sh\ncase "$1" in Username*) echo x-access-token;; '
                                         '*) printf "%s\\n" "$FLUXPLANE_GIT_TOKEN";; esac\n')
                self._askpass.chmod(0o700)
            env.update(GIT_ASKPASS=str(self._askpass), FLUXPLANE_GIT_TOKEN=self._token)
        return env

    def git(self, *args: str, stdin: str | None = None, author: Identity | None = None, check: bool = True,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run git with an argument list in the working copy; raises GitCommandError when ``check`` and it fails."""
        proc = subprocess.run(  # noqa: S603 — argument list, never a shell
            ["git", *args], cwd=cwd or self.path, input=stdin, capture_output=True, text=True,
            env=self._env(author), check=False, timeout=300,
        )
        if check and proc.returncode != 0:
            raise GitCommandError(list(args), proc.returncode, proc.stderr)
        return proc

    def _rev(self, ref: str) -> str:
        proc = self.git("rev-parse", "--verify", "--quiet", ref, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive file lock on this working copy (one run at a time per repository and machine)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / f"{self.path.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- per run -------------------------------------------------------------------------------------------
    def prepare(self) -> str:
        """Clone once (later runs only fetch), then hard-reset a clean work tree to the remote base branch.

        Returns the base commit sha."""
        if not (self.path / ".git").is_dir():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.git("clone", "--no-checkout", "--", self.remote_url, str(self.path), cwd=self.path.parent)
        self.git("fetch", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")
        base = self._rev(f"refs/remotes/origin/{self.base_branch}")
        if not base:
            raise GitOpsError(f"the remote has no branch {self.base_branch!r}")
        self.git("checkout", "--force", "-B", "fluxplane-work", base)
        self.git("reset", "--hard", base)
        self.git("clean", "-ffdx")
        return base

    def diff(self) -> str:
        """The pending change as ``git diff`` text (new files included), for previews and PR bodies."""
        self.git("add", "--all")
        return self.git("diff", "--cached", "--no-color", "--no-ext-diff").stdout

    def changed_files(self) -> list[str]:
        """Repository-relative paths the pending change touches."""
        self.git("add", "--all")
        return [p for p in self.git("diff", "--cached", "--name-only", "-z").stdout.split("\0") if p]

    def _commit(self, author: Identity, message: str, parent_ref: str) -> str:
        self.git("add", "--all")
        tree = self.git("write-tree").stdout.strip()
        sha = self.git("commit-tree", tree, "-p", parent_ref, "-F", "-", stdin=message, author=author).stdout.strip()
        self.git("reset", "--soft", sha)
        return sha

    def commit_branch(self, branch: str, author: Identity, message: str) -> CommitResult:
        """Commit the pending change on ``branch`` (from the base prepared) and push it.

        Idempotent: when the remote branch already holds exactly this tree, nothing is committed or pushed and
        its commit is returned (``created=False``). Raises GitOpsError when there is no change at all."""
        self.git("add", "--all")
        tree = self.git("write-tree").stdout.strip()
        existing = self._rev(f"refs/remotes/origin/{branch}")
        if existing and self._rev(f"{existing}^{{tree}}") == tree:
            return CommitResult(branch, existing, False)
        if tree == self._rev("HEAD^{tree}"):
            raise GitOpsError("the change is empty: the files already look like that on the base branch")
        sha = self._commit(author, message, "HEAD")
        lease = f"--force-with-lease=refs/heads/{branch}:{existing}"  # the branch is ours; a retry may replace it
        push = self.git("push", "--porcelain", lease, "origin", f"{sha}:refs/heads/{branch}", check=False)
        if push.returncode != 0:
            output = push.stderr + push.stdout
            if any(marker in output for marker in (*_REJECTED, "remote rejected", "pre-receive hook declined")):
                # Someone else moved the branch since our fetch (the lease failed), or the host refuses pushes to
                # it (a protected branch, a hook): pushing again would not help, and nothing was pushed.
                raise PushConflict(f"the push of {branch} was rejected ({_rejection(output)}); nothing was pushed "
                                   "(the patch is attached to the run)", self.format_patch(sha))
            raise GitCommandError(["push", "origin", branch], push.returncode, push.stderr)
        self.git("update-ref", f"refs/remotes/origin/{branch}", sha)
        return CommitResult(branch, sha, True)

    def _find_run_commit(self, run_id: str | int, ref: str) -> str:
        proc = self.git("log", "-n", "500", "--format=%H", "--fixed-strings",
                        f"--grep={RUN_TRAILER}: {run_id}", ref, check=False)
        for sha in proc.stdout.split():
            body = self.git("log", "-1", "--format=%B", sha).stdout
            if f"{RUN_TRAILER}: {run_id}" in body.splitlines():
                return sha
        return ""

    def format_patch(self, sha: str) -> str:
        """The commit as ``git format-patch`` text (kept when a push ultimately fails)."""
        return self.git("format-patch", "--stdout", "-1", sha).stdout

    def commit_to_base(self, author: Identity, message: str, run_id: str | int, retries: int = 5) -> CommitResult:
        """Direct mode: commit on the base branch and push, rebasing and retrying on a non-fast-forward push.

        Idempotent by the ``Fluxplane-Run`` trailer: if the base already has this run's commit it is returned.
        Raises PushConflict (with the patch) after ``retries`` or on a rebase conflict; nothing is lost."""
        if f"{RUN_TRAILER}: {run_id}" not in message.splitlines():
            message = message.rstrip("\n") + f"\n\n{RUN_TRAILER}: {run_id}\n"
        base_ref = f"refs/remotes/origin/{self.base_branch}"
        done = self._find_run_commit(run_id, base_ref)
        if done:
            return CommitResult(self.base_branch, done, False)
        self.git("add", "--all")
        if self.git("write-tree").stdout.strip() == self._rev("HEAD^{tree}"):
            raise GitOpsError("the change is empty: the files already look like that on the base branch")
        sha = self._commit(author, message, "HEAD")
        for _attempt in range(retries + 1):
            push = self.git("push", "--porcelain", "origin", f"{sha}:refs/heads/{self.base_branch}", check=False)
            if push.returncode == 0:
                self.git("update-ref", base_ref, sha)
                return CommitResult(self.base_branch, sha, True)
            if not any(marker in push.stderr + push.stdout for marker in _REJECTED):
                raise GitCommandError(["push", "origin", self.base_branch], push.returncode, push.stderr)
            self.git("fetch", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")
            rebase = self.git("rebase", base_ref, check=False, author=author)
            if rebase.returncode != 0:
                self.git("rebase", "--abort", check=False)
                raise PushConflict(
                    f"the change conflicts with commits pushed to {self.base_branch} meanwhile; it was not pushed "
                    "(the patch is attached to the run)", self.format_patch(sha))
            sha = self._rev("HEAD")
        raise PushConflict(
            f"{self.base_branch} kept moving: the push was rejected {retries + 1} times; nothing was pushed "
            "(the patch is attached to the run)", self.format_patch(sha))
