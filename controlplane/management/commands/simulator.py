"""`python manage.py simulator --port PORT [--demo --workdir DIR]`: serve the local cluster simulator in the
foreground; with --demo also the simulated Flux controllers, the demo git repository and a GitHub API simulator."""

from __future__ import annotations

import signal
import sys

from django.core.management.base import BaseCommand, CommandParser

from simulator import Simulator


class Command(BaseCommand):
    """Runs the Kubernetes API simulator on 127.0.0.1 without authentication until SIGTERM or Ctrl-C."""

    help = "Serve the local Kubernetes API simulator (for tests and the demo; no authentication)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 picks a free one)")
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--snapshot", default=None,
                            help="JSON file: loaded at start if present, written on clean stop")
        parser.add_argument("--generate", default=None, metavar="NxM",
                            help="preload N namespaces x M apps of synthetic Flux data (e.g. 100x20)")
        parser.add_argument("--demo", action="store_true",
                            help="run Flux (simulated) against the demo git repository (flux2-kustomize-helm-example)")
        parser.add_argument("--workdir", default="var/demo", help="--demo: where the git repositories live")
        parser.add_argument("--github-port", type=int, default=0,
                            help="--demo: port of the GitHub API simulator serving the demo repository")
        parser.add_argument("--source-interval", default="15s",
                            help="--demo: how often the GitRepository polls (a merged PR shows up within it)")
        parser.add_argument("--event-webhook", default=None,
                            help="--demo: URL that receives Flux events as notification-controller posts them")

    def handle(self, *args: object, **opts: object) -> None:
        if opts["demo"]:
            return self.handle_demo(**opts)
        sim = Simulator(snapshot=opts["snapshot"])  # type: ignore[arg-type]
        if opts["generate"]:
            from simulator.generator import generate

            n, m = (int(x) for x in str(opts["generate"]).lower().split("x"))
            sim.store.bulk_load(generate(n, m))

        def stop(signum: int, frame: object) -> None:
            sim.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        url = sim.start(str(opts["host"]), int(opts["port"]))  # type: ignore[call-overload]
        # The URL line is the interface scripts parse; flush so a pipe sees it at once.
        self.stdout.write(url)
        self.stdout.flush()
        sim.serve_forever()
        self.stderr.write("simulator stopped")
        sys.stderr.flush()

    def handle_demo(self, **opts: object) -> None:
        """The demo: Kubernetes API + Flux controllers + git repository + GitHub API, until SIGTERM or Ctrl-C."""
        import secrets
        import threading
        from pathlib import Path

        from simulator.flux.demo import start_demo
        from simulator.github import GitHubSimulator

        workdir = Path(str(opts["workdir"])).resolve()
        demo = start_demo(workdir, str(opts["host"]), int(opts["port"]),  # type: ignore[call-overload]
                          event_webhook_url=opts["event_webhook"] or None,  # type: ignore[arg-type]
                          source_interval=str(opts["source_interval"]))
        token_file = workdir / "github-token"
        if not token_file.exists():
            token_file.touch(mode=0o600)
            token_file.write_text(secrets.token_hex(20))
        github = GitHubSimulator(workdir / "github", tokens={token_file.read_text().strip(): "fluxplane-bot"},
                                 host=str(opts["host"]), port=int(opts["github_port"]))  # type: ignore[call-overload]
        github.add_repo(DEMO_REPOSITORY, demo.bare_repo)
        github_url = github.start()
        stopped = threading.Event()

        def stop(signum: int, frame: object) -> None:
            stopped.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # First line: the Kubernetes API URL (the same interface as without --demo); then key: value lines.
        self.stdout.write(demo.api_url)
        self.stdout.write(f"git-repository: {demo.repo.url}")
        self.stdout.write(f"github-api: {github_url}")
        self.stdout.write(f"github-repository: {DEMO_REPOSITORY}")
        self.stdout.write(f"github-token-file: {token_file}")
        self.stdout.flush()
        stopped.wait()
        github.stop()
        demo.stop()
        self.stderr.write("demo stopped")


DEMO_REPOSITORY = "fluxplane/fleet"
