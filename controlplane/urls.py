"""URL configuration: the admin is the product. /livez, /readyz and /healthz are answered by
controlplane.health.HealthMiddleware (before the Host check), so they have no URL pattern here."""

from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from playbooks.links import decide

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Browsers ask for /favicon.ico on every page; the icon is a static file.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("controlplane/favicon.svg"))),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),  # REST API for automation and the fluxplane CLI (docs/api.md)
    path("decide/<str:token>/", decide, name="decision-link"),  # signed approve/reject links sent to approvers
    # Machine endpoints (Alertmanager webhook, Flux notification events), authenticated by token / HMAC.
    path("alerts/", include("alerts.urls")),
]
