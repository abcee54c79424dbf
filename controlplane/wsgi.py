"""WSGI entry point (gunicorn controlplane.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
application = get_wsgi_application()

# What loading makes (Django, the apps and their admin, the URLconf, the Kubernetes client: ≈ 136k objects) lives as
# long as the worker. Frozen, the collector's full passes skip it: they took 0.06–0.12 s every few requests, the
# slowest of the admin pages (docs/performance.md, *Admin pages*). The URLconf is loaded here to be frozen too.
from django.urls import reverse  # noqa: E402 - after the application is set up

reverse("admin:index")
gc.collect()
gc.freeze()
