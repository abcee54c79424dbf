"""The GitHub simulator's git plumbing: the shared bare repository of ``simulator.forge`` (kept under this name for
the modules and tests that import it from here)."""

from simulator.forge.bare import SHA_RE, ZERO_SHA, BareRepo, CommitInfo, GitError, Person, TreeEntry

__all__ = ["SHA_RE", "ZERO_SHA", "BareRepo", "CommitInfo", "GitError", "Person", "TreeEntry"]
