"""`python manage.py simulator --port PORT`: serve the local cluster simulator in the foreground."""

from __future__ import annotations

import signal
import sys

from django.core.management.base import BaseCommand, CommandParser

from controlplane.sim import Simulator


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

    def handle(self, *args: object, **opts: object) -> None:
        sim = Simulator(snapshot=opts["snapshot"])  # type: ignore[arg-type]
        if opts["generate"]:
            from controlplane.sim.generator import generate

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
