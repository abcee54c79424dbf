"""A local GitHub REST API v3 simulator backed by real bare git repositories (no Django imports).

sim = GitHubSimulator(tmp / "repos", tokens={"secret": "alice"})
base_url = sim.start()
sim.create_repo("acme/fleet", source=working_tree)
Github(base_url=base_url, auth=Auth.Token("secret")).get_repo("acme/fleet")
"""

from .repo import BareRepo, GitError, Person
from .server import GitHubSimulator
from .state import ApiError, Pull

__all__ = ["ApiError", "BareRepo", "GitError", "GitHubSimulator", "Person", "Pull"]
