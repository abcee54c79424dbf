"""``manage.py demo_cluster``: connect Fluxplane to the running demo (cluster + git connection), idempotently."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from controlplane import context
from controlplane.models import AuditEvent, Cluster, GitConnection

DEMO_NAME = "demo"


class Command(BaseCommand):
    help = ("Point the 'demo' Cluster and GitConnection at a running `simulator --demo`. With --check, exit 0 when "
            "the demo should run (no other cluster is configured) and 1 otherwise.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true")
        parser.add_argument("--api-url")
        parser.add_argument("--git-url", help="clone URL of the demo repository (what the GitRepository reads)")
        parser.add_argument("--github-api")
        parser.add_argument("--github-repository")
        parser.add_argument("--github-token-file")

    def handle(self, *args, check: bool = False, api_url=None, git_url=None, github_api=None,
               github_repository=None, github_token_file=None, **options):
        if check:
            others = Cluster.objects.exclude(name=DEMO_NAME).exists()
            raise SystemExit(1 if others else 0)
        if not (api_url and git_url and github_api and github_repository and github_token_file):
            raise CommandError("--api-url, --git-url, --github-api, --github-repository and --github-token-file are "
                               "required")
        with context.work_context(context.Origin.COMMAND):
            cluster, created = Cluster.objects.update_or_create(name=DEMO_NAME, defaults={
                "description": "local demo: the simulator running flux2-kustomize-helm-example",
                "connection": Cluster.Connection.SIMULATOR, "server_url": api_url, "sync_interval_seconds": 60,
                "enabled": True,
            })
            if created:
                AuditEvent.record("cluster.created", cluster, message="demo cluster connected")
            owner_repo = github_repository
            # The clone URL is what the GitRepository reads (so Fluxplane finds the connection of a source); pull
            # requests go through the GitHub API simulator serving the same bare repository as owner/repo.
            connection, created = GitConnection.objects.update_or_create(name=DEMO_NAME, defaults={
                "provider": GitConnection.Provider.GITHUB, "api_url": github_api, "github_repository": owner_repo,
                "repository_url": git_url, "base_branch": "main",
                "token_ref": f"file:{github_token_file}", "create_pull_requests": True,
            })
            if created:
                AuditEvent.record("gitconnection.created", connection, message="demo git connection")
        self.stdout.write(f"demo cluster at {api_url}, git connection {owner_repo} via {github_api}")
