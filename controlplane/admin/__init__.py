"""Admin for the core app: site branding, audit log, connections, runs and the RQ dashboard."""

from django.contrib import admin

from controlplane.admin import audit, connections, queues, runs  # noqa: F401  (registers the ModelAdmins)
from controlplane.security import ThrottledAdminAuthenticationForm

admin.site.site_header = "Fluxplane"
admin.site.site_title = "Fluxplane"
admin.site.index_title = "Flux control plane"
admin.site.login_form = ThrottledAdminAuthenticationForm
