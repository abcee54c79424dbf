"""A local Gitea/Forgejo REST API v1 simulator backed by real bare git repositories (no Django imports).

sim = GiteaSimulator(tmp / "repos", tokens={"secret": "alice"}, ci_job="ci/build")
url = sim.start()
sim.add_repo("acme/fleet", bare_path)
GiteaClient(url, "secret", "acme", "fleet").list_pulls()
"""

from .server import GiteaSimulator

__all__ = ["GiteaSimulator"]
