"""Git plumbing shared by the git-host simulators (GitHub, GitLab, Gitea): one bare repository driven through the
`git` CLI.

Every call passes an argument list to subprocess (never a shell), with a private environment so the machine's
git configuration cannot change what the simulator writes.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
ZERO_SHA = "0" * 40


class GitError(Exception):
    """A git command failed; ``stderr`` carries git's own message."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:3])}… exited {returncode}: {stderr.strip()[:300]}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Person:
    """An author or committer identity with an ISO-8601 date (None = now)."""

    name: str
    email: str
    date: str | None = None


@dataclass(frozen=True)
class TreeEntry:
    """One entry of `git ls-tree -l`."""

    mode: str
    type: str
    sha: str
    size: int | None
    path: str


@dataclass(frozen=True)
class CommitInfo:
    """A parsed commit object."""

    sha: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # Ignore the user's and the system's configuration (hooks, signing, templates): the simulator must behave the
    # same on every machine.
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    return env


def _iso_date(raw: str) -> str:
    """'1700000000 +0100' (git raw date) → GitHub's '2023-11-14T22:13:20Z' (always UTC)."""
    from datetime import UTC, datetime

    seconds = int(raw.split()[0])
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _person(raw: str) -> Person:
    match = re.match(r"^(.*) <(.*)> (\d+ [+-]\d{4})$", raw)
    if not match:
        return Person(raw, "", None)
    return Person(match.group(1), match.group(2), _iso_date(match.group(3)))


class BareRepo:
    """A bare git repository on disk with the handful of plumbing operations the API needs.

    ``lock`` serialises every read-modify-write (commit on a branch, merge) so concurrent requests cannot lose
    updates; ref updates additionally pass the expected old value to `git update-ref` as a second guard.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock = threading.RLock()

    # -- running git ---------------------------------------------------------------------------------------------

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, ok: tuple = (0,)) -> bytes:
        """Run git against this repository; raise GitError unless the exit code is in ``ok``."""
        full_env = _git_env()
        if env:
            full_env.update(env)
        argv = ["git", "--git-dir", str(self.path), *args]
        proc = subprocess.run(argv, input=input, capture_output=True, env=full_env, check=False)
        if proc.returncode not in ok:
            raise GitError(list(args), proc.returncode, proc.stderr.decode("utf-8", "replace"))
        return proc.stdout

    def text(self, *args: str, **kwargs: Any) -> str:
        """Like git(), decoded as UTF-8."""
        return self.git(*args, **kwargs).decode("utf-8", "replace")

    # -- creation ------------------------------------------------------------------------------------------------

    @classmethod
    def init(cls, path: Path, default_branch: str = "main") -> BareRepo:
        """Create an empty bare repository whose HEAD points at ``default_branch``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["git", "init", "--quiet", "--bare", "--initial-branch", default_branch, str(path)],
            capture_output=True,
            env=_git_env(),
            check=False,
        )
        if proc.returncode:
            raise GitError(["init"], proc.returncode, proc.stderr.decode("utf-8", "replace"))
        return cls(path)

    def import_directory(self, source: Path, branch: str, message: str, who: Person) -> str:
        """Commit the files of ``source`` (its own .git is skipped by git) as the first commit of ``branch``."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("--work-tree", str(source), "add", "--all", "--force", ".", env=env)
            tree = self.text("write-tree", env=env).strip()
        sha = self.commit_tree(tree, [], message, who, who)
        self.update_ref(branch, sha, ZERO_SHA)
        return sha

    def default_branch(self) -> str:
        ref = self.text("symbolic-ref", "HEAD").strip()
        return ref.removeprefix("refs/heads/")

    # -- refs ----------------------------------------------------------------------------------------------------

    def branch_sha(self, branch: str) -> str | None:
        out = self.text("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", ok=(0, 1)).strip()
        return out or None

    def branches(self) -> dict[str, str]:
        out = self.text("for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/")
        return dict(line.rsplit(" ", 1) for line in out.splitlines() if line)

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str, str]]:
        """(refname, sha, object type) for every ref under ``prefix``."""
        out = self.text("for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", prefix)
        return [tuple(line.split(" ")) for line in out.splitlines() if line]  # type: ignore[misc]

    def update_ref(self, branch: str, new: str, old: str | None) -> None:
        """Move ``refs/heads/<branch>`` to ``new`` only if it still points at ``old`` (ZERO_SHA = must not exist)."""
        args = ["update-ref", f"refs/heads/{branch}", new]
        if old is not None:
            args.append(old)
        self.git(*args)

    def delete_ref(self, branch: str) -> None:
        self.git("update-ref", "-d", f"refs/heads/{branch}")

    def resolve(self, rev: str) -> str | None:
        """A branch name, tag, full or abbreviated sha → commit sha, or None."""
        if rev.startswith("-"):
            return None
        for candidate in (f"refs/heads/{rev}", f"refs/tags/{rev}", rev):
            out = self.text("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", ok=(0, 1, 128)).strip()
            if SHA_RE.match(out):
                return out
        return None

    # -- objects -------------------------------------------------------------------------------------------------

    def object_type(self, sha: str) -> str | None:
        if not re.match(r"^[0-9a-f]{4,40}$", sha):
            return None
        out = self.text("cat-file", "-t", sha, ok=(0, 1, 128)).strip()
        return out or None

    def read_blob(self, sha: str) -> bytes:
        return self.git("cat-file", "blob", sha)

    def write_blob(self, data: bytes) -> str:
        return self.text("hash-object", "-w", "--stdin", input=data).strip()

    def read_commit(self, sha: str) -> CommitInfo:
        raw = self.text("cat-file", "commit", sha)
        header, _, message = raw.partition("\n\n")
        tree, parents, author, committer = "", [], None, None
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key == "author":
                author = _person(value)
            elif key == "committer":
                committer = _person(value)
        return CommitInfo(sha, tree, parents, author or Person("", ""), committer or Person("", ""), message)

    def ls_tree(self, tree_ish: str, path: str = "", recursive: bool = False) -> list[TreeEntry]:
        """Entries of the tree at ``path`` inside ``tree_ish`` (the directory's children)."""
        args = ["ls-tree", "-z", "-l", "--full-tree"]
        if recursive:
            args += ["-r", "-t"]
        spec = f"{tree_ish}:{path}" if path else tree_ish
        out = self.text(*args, spec)
        entries = []
        for item in out.split("\0"):
            if not item:
                continue
            meta, _, name = item.partition("\t")
            mode, kind, sha, size = meta.split()
            entries.append(TreeEntry(mode, kind, sha, None if size == "-" else int(size), name))
        return entries

    def entry(self, tree_ish: str, path: str) -> TreeEntry | None:
        """The tree entry at ``path`` (file or directory) in ``tree_ish``, or None."""
        path = path.strip("/")
        if not path:
            return TreeEntry("040000", "tree", self.text("rev-parse", f"{tree_ish}^{{tree}}").strip(), None, "")
        out = self.text("ls-tree", "-z", "-l", "--full-tree", tree_ish, "--", path)
        for item in out.split("\0"):
            meta, _, name = item.partition("\t")
            if name == path:
                mode, kind, sha, size = meta.split()
                return TreeEntry(mode, kind, sha, None if size == "-" else int(size), name)
        return None

    def build_tree(self, base_tree: str | None, changes: list[tuple[str, str, str | None]]) -> str:
        """Apply (path, mode, blob sha or None to delete) to ``base_tree`` in a private index; return the new tree."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base_tree:
                self.git("read-tree", base_tree, env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            # One --index-info batch (NUL-separated, so any path is safe); mode 0 removes the entry.
            lines = [f"{mode} {sha}\t{path}" if sha else f"0 {ZERO_SHA}\t{path}" for path, mode, sha in changes]
            if lines:
                self.git("update-index", "-z", "--index-info", input="\0".join(lines).encode() + b"\0", env=env)
            return self.text("write-tree", env=env).strip()

    def commit_tree(self, tree: str, parents: list[str], message: str, author: Person, committer: Person) -> str:
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }
        if author.date:
            env["GIT_AUTHOR_DATE"] = author.date
        if committer.date:
            env["GIT_COMMITTER_DATE"] = committer.date
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        # The message goes through stdin so no text from a request ever lands on a command line.
        return self.text(*args, input=message.encode("utf-8"), env=env).strip()

    # -- history and diffs ---------------------------------------------------------------------------------------

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The merged tree of two commits (git ≥ 2.38 `merge-tree --write-tree`), or None on conflict."""
        out = self.text("merge-tree", "--write-tree", "--no-messages", ours, theirs, ok=(0, 1))
        first = out.splitlines()[0] if out else ""
        if SHA_RE.match(first) and "\n" not in out.strip():
            return first
        return None

    def merge_base(self, a: str, b: str) -> str | None:
        return self.text("merge-base", a, b, ok=(0, 1)).strip() or None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        argv = ["git", "--git-dir", str(self.path), "merge-base", "--is-ancestor", ancestor, descendant]
        return subprocess.run(argv, capture_output=True, env=_git_env(), check=False).returncode == 0

    def rev_list(self, *revs: str, path: str | None = None, limit: int | None = None) -> list[str]:
        args = ["rev-list"]
        if limit:
            args.append(f"--max-count={limit}")
        args += list(revs)
        if path:
            args += ["--", path]
        return self.text(*args).split()

    def diff_files(self, old: str | None, new: str) -> list[dict]:
        """GitHub 'files' entries (filename, status, additions, deletions, changes, patch, sha) for old → new."""
        old_tree = old or self.text("hash-object", "-t", "tree", "/dev/null").strip()
        statuses = self.text("diff-tree", "-r", "-z", "-M", "--no-commit-id", "--name-status", old_tree, new)
        numstat = self.text("diff-tree", "-r", "-z", "-M", "--no-commit-id", "--numstat", old_tree, new)
        counts = _parse_numstat(numstat)
        files = []
        parts = statuses.split("\0")
        i = 0
        while i < len(parts) and parts[i]:
            code = parts[i]
            if code[0] in "RC":
                previous, filename = parts[i + 1], parts[i + 2]
                i += 3
            else:
                previous, filename = None, parts[i + 1]
                i += 2
            status = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
            adds, dels = counts.get(filename, (0, 0))
            pathspec = [filename] if previous is None else [previous, filename]
            patch = self.text("diff", "-M", "--no-color", old_tree, new, "--", *pathspec)
            entry = self.entry(new, filename) if code[0] != "D" else self.entry(old_tree, filename)
            item = {
                "filename": filename,
                "status": status.get(code[0], "modified"),
                "additions": adds,
                "deletions": dels,
                "changes": adds + dels,
                "patch": _hunks(patch),
                "sha": entry.sha if entry else ZERO_SHA,
            }
            if previous is not None:
                item["previous_filename"] = previous
            files.append(item)
        return files


def _parse_numstat(out: str) -> dict[str, tuple[int, int]]:
    """`diff-tree --numstat -z` → {new path: (added, deleted)}; binary files count as 0."""
    counts: dict[str, tuple[int, int]] = {}
    parts = out.split("\0")
    i = 0
    while i < len(parts) and parts[i]:
        added, deleted, path = parts[i].split("\t", 2)
        i += 1
        if path == "":  # a rename: the next two fields are the old and the new path
            path = parts[i + 1]
            i += 2
        counts[path] = (int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0)
    return counts


def _hunks(patch: str) -> str:
    """GitHub's 'patch' field is the unified diff from the first hunk header on, without the file headers."""
    start = patch.find("\n@@")
    if patch.startswith("@@"):
        return patch.rstrip("\n")
    return patch[start + 1 :].rstrip("\n") if start >= 0 else ""
