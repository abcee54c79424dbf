#!/usr/bin/env python
"""Django's command-line utility for Fluxplane."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
    if sys.argv[1:2] == ["simulator"]:
        # The simulator is a local test and demo tool that never touches the database or serves Fluxplane:
        # it must start on a bare machine without production secrets.
        os.environ.setdefault("FLUXPLANE_DEMO", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
