"""What the git-host simulators share: the bare repository (``bare``), change requests, statuses and pipelines
(``changes``) and the HTTP server base with auth, routing and auto-merge (``server``). The GitHub simulator uses
the bare repository; the GitLab and Gitea simulators are built on all three."""

from .bare import BareRepo, GitError, Person
from .changes import Change, CommitStatus, ForgeRepo, Pipeline, Refused
from .server import DEFAULT_LOGIN, Call, ForgeSimulator

__all__ = ["DEFAULT_LOGIN", "BareRepo", "Call", "Change", "CommitStatus", "ForgeRepo", "ForgeSimulator", "GitError",
           "Person", "Pipeline", "Refused"]
