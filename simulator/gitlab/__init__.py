"""A local GitLab REST API v4 simulator backed by real bare git repositories (no Django imports).

sim = GitLabSimulator(tmp / "repos", tokens={"secret": "alice"}, ci_job="build")
url = sim.start()
sim.add_repo("acme/platform/fleet", bare_path)
gitlab.Gitlab(url, private_token="secret").projects.get("acme/platform/fleet")
"""

from .server import GitLabSimulator

__all__ = ["GitLabSimulator"]
